"""The one HTTP client of every command: the envelope, the credential and its refresh.

Every answer is unwrapped here: ``data`` of a success, an ``ApiFailure`` with
the API's code and message for its error envelope, ``Unreachable`` when no
answer came at all. A stored login's access token is refreshed shortly before
it expires, and once more when the API calls it invalid (revoked, or the
server's clock disagrees), then the request is repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from cli.credentials import Credentials, CredentialStore
from cli.errors import ApiFailure, CliError, Unreachable

EXPIRY_MARGIN_SECONDS = 30.0
"""Refresh this long before the access token's expiry, so it cannot lapse in flight."""
DEFAULT_TIMEOUT_SECONDS = 30.0
LOGIN_HINT = "run `scheduler login` (or set SCHEDULER_API_KEY)"


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    headers: httpx.Headers


def credentials_from_tokens(
    url: str, username: str, tokens: Mapping[str, Any], now: float
) -> Credentials:
    """The stored form of a login or refresh answer (its tokens and ``expires_in``)."""
    return Credentials(
        url=url,
        username=username,
        access_token=str(tokens["access_token"]),
        refresh_token=str(tokens["refresh_token"]),
        access_expires_at=now + float(tokens["expires_in"]),
    )


class ApiClient:
    """A client of one server, authenticated by an API key, a stored login, or nothing."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        store: CredentialStore | None = None,
        credentials: Credentials | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._api_key = api_key
        self._store = store
        self._credentials = credentials
        self._clock = clock
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def username(self) -> str | None:
        return self._credentials.username if self._credentials else None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params).data

    def post(self, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None) -> Any:
        return self.request("POST", path, json=body, headers=headers).data

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).data

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request and unwrap its envelope; raises ``ApiFailure`` or ``Unreachable``."""
        sent_with = self._credentials
        response = self._send(method, path, params, json, headers, authenticated, timeout)
        if (
            response.status_code == 401
            and authenticated
            and self._api_key is None
            and sent_with is not None
            and _error_code(response) == "INVALID_TOKEN"
        ):
            self._refresh(sent_with)
            response = self._send(method, path, params, json, headers, authenticated, timeout)
        return _unwrap(response)

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        authenticated: bool,
        timeout: float | None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if authenticated:
            all_headers["Authorization"] = self._authorization()
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self._http.request(
                method,
                path,
                params=clean_params,
                json=json,
                headers=all_headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.UnsupportedProtocol as exc:
            raise CliError(f"{self.base_url} is not an http:// or https:// URL") from exc
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, _reason(exc)) from exc

    def _authorization(self) -> str:
        if self._api_key is not None:
            return f"Bearer {self._api_key}"
        if self._credentials is None:
            raise CliError(f"not logged in to {self.base_url}", hint=LOGIN_HINT)
        if self._credentials.access_expires_at - EXPIRY_MARGIN_SECONDS <= self._clock():
            self._refresh(self._credentials)
        return f"Bearer {self._credentials.access_token}"

    def _refresh(self, stale: Credentials) -> None:
        """Replace ``stale`` with a fresh pair, unless another command already did."""
        if self._store is None:
            raise CliError("the login has expired", hint=LOGIN_HINT)
        with self._store.locked():
            current = self._store.load()
            if (
                current is not None
                and current.url == stale.url
                and current.access_token != stale.access_token
                and current.access_expires_at - EXPIRY_MARGIN_SECONDS > self._clock()
            ):
                self._credentials = current
                return
            refresh_token = (current or stale).refresh_token
            try:
                response = self._http.post(
                    "/api/auth/refresh", json={"refresh_token": refresh_token}
                )
            except httpx.TransportError as exc:
                raise Unreachable(self.base_url, _reason(exc)) from exc
            if response.status_code in (401, 403):
                raise CliError(
                    f"the login to {self.base_url} has expired or was revoked", hint=LOGIN_HINT
                )
            tokens = _unwrap(response).data
            fresh = credentials_from_tokens(stale.url, stale.username, tokens, self._clock())
            self._store.save(fresh)
            self._credentials = fresh


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


def _unwrap(response: httpx.Response) -> Answer:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("success") is True:
        return Answer(response.status_code, body.get("data"), response.headers)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        raise ApiFailure(
            response.status_code,
            str(error.get("code") or f"HTTP_{response.status_code}"),
            str(error.get("message") or "no message"),
            error.get("details"),
        )
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    raise ApiFailure(
        response.status_code,
        f"HTTP_{response.status_code}",
        f"unexpected answer from {response.request.url}: HTTP {response.status_code} ({kind}); "
        "is this the scheduler's API?",
    )


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed ({text})" if text else "connection failed"
    return text or type(exc).__name__
