"""The HTTP executor: one request (and its redirects), 2xx is success.

Each hop's host is resolved and checked by ``net_guard`` and the request is
sent to that checked address (with the original ``Host`` header and TLS
server name), so neither a redirect nor a DNS change can lead a task to an
address it may not reach.

``timeout_ms`` bounds the whole request: resolution, connection, every hop of
its redirects and the reading of the body, not each read on its own (a
server trickling one byte a second would otherwise hold the attempt forever).
The body is captured after its content decoding, within the output bound
(``activities.http_body``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities.attempt import Attempt, AttemptTracker
from activities.environment import ExecutionContext
from activities.http_body import DecodingFailed, ResponseBody, UnsupportedEncoding
from activities.http_client import LazyHttpClient
from domain import failures
from domain.net_guard import BlockedAddress, ResolutionFailed, resolve_allowed
from domain.parameters import HttpParameters, ParameterError
from domain.secret_refs import text, texts
from workflows.payloads import ExecuteTask, ExecutionResult

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 10
USER_AGENT = "temporal-task-scheduler/1.0"
ACCEPT_ENCODING = "gzip, deflate"


def _next_request(
    method: str, body: str | None, headers: dict[str, str], status: int, same_origin: bool
) -> tuple[str, str | None, dict[str, str]]:
    """Method, body and headers for the hop a redirect leads to (as browsers do)."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if not same_origin:
        # Credentials are for the origin they were written for.
        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    return method, body, headers


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class HttpExecutor:
    """Implements ``workflows.executors.Executors.run_http``."""

    def __init__(self, context: ExecutionContext, tracker: AttemptTracker) -> None:
        self._context = context
        self._tracker = tracker
        self._client = LazyHttpClient()

    async def close(self) -> None:
        await self._client.aclose()

    @activity.defn(name="run_http")
    async def run_http(self, task: ExecuteTask) -> ExecutionResult:
        """Send the request; 2xx completes the run, any other answer is a retryable failure."""
        import httpx

        async def body(attempt: Attempt) -> ExecutionResult:
            params = await self._context.parameters(attempt, "http", task, HttpParameters)
            try:
                async with asyncio.timeout(params.timeout_ms / 1000):
                    return await self._send(attempt, params)
            except BlockedAddress as exc:
                raise attempt.invalid(ParameterError("parameters.url", str(exc))) from exc
            except ResolutionFailed as exc:
                raise attempt.failed(str(exc), kind=failures.HTTP_TRANSPORT_ERROR) from exc
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise attempt.failed(
                    f"the request did not complete within timeout_ms={params.timeout_ms}",
                    kind=failures.HTTP_TIMEOUT,
                ) from exc
            except (UnsupportedEncoding, DecodingFailed) as exc:
                raise attempt.failed(str(exc), kind=failures.HTTP_DECODING_ERROR) from exc
            except httpx.HTTPError as exc:
                raise attempt.failed(
                    f"request failed: {type(exc).__name__}: {exc}",
                    kind=failures.HTTP_TRANSPORT_ERROR,
                ) from exc

        return await self._tracker.execute(task, body)

    async def _send(self, attempt: Attempt, params: HttpParameters) -> ExecutionResult:
        import httpx

        url = httpx.URL(params.url)
        if params.query:
            url = url.copy_merge_params(texts(params.query))
        method: str = params.method
        body = text(params.body) if params.body is not None else None
        headers = {"User-Agent": USER_AGENT, **texts(params.headers)}
        if not any(name.lower() == "accept-encoding" for name in headers):
            # Only what ``http_body`` decodes, whichever decoders httpx has installed.
            headers["Accept-Encoding"] = ACCEPT_ENCODING
        timeout = httpx.Timeout(params.timeout_ms / 1000)
        limit = self._context.settings.output_limit_bytes
        for _ in range(MAX_REDIRECTS + 1):
            port = url.port or (443 if url.scheme == "https" else 80)
            address = await resolve_allowed(
                url.host, port, block_private=self._context.settings.http_block_private
            )
            extensions: dict[str, Any] = {"sni_hostname": url.host} if url.scheme == "https" else {}
            request = self._client.get().build_request(
                method,
                url.copy_with(host=address),
                headers={**headers, "Host": url.netloc.decode("ascii")},
                content=body.encode() if body is not None else None,
                timeout=timeout,
                extensions=extensions,
            )
            response = await self._client.get().send(request, stream=True)
            try:
                location = response.headers.get("location")
                if params.follow_redirects and response.is_redirect and location:
                    target = url.join(location)
                    method, body, headers = _next_request(
                        method, body, headers, response.status_code, _origin(target) == _origin(url)
                    )
                    url = target
                    continue
                captured = ResponseBody(response.headers.get("content-encoding"), limit)
                async for chunk in response.aiter_raw():
                    if not captured.feed(chunk):
                        break
            finally:
                await response.aclose()
            status_line = f"{response.http_version} {response.status_code} {response.reason_phrase}"
            output = f"{status_line}\n\n{captured.text()}"
            if response.is_success:
                return attempt.succeeded(output)
            raise attempt.failed(
                f"HTTP {response.status_code} {response.reason_phrase} from {url}",
                output,
                kind=failures.HTTP_STATUS_ERROR,
            )
        raise attempt.failed(
            f"more than {MAX_REDIRECTS} redirects", kind=failures.HTTP_TOO_MANY_REDIRECTS
        )
