"""The outbound HTTP client of an executor or a notifier, made on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class LazyHttpClient:
    """One ``httpx.AsyncClient`` (no redirects followed, no proxy from the
    environment), made when the first request goes out.

    httpx imports its command-line extras (click, rich, pygments) with it:
    ~7 MiB that a worker running no HTTP task and sending no webhook never loads.
    """

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def get(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
