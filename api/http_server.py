"""How uvicorn serves the API: which peers may name the client, and bounds on a request's head.

uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default, so any local
process could pick the client IP that rate limits count against; here the
header is read only when ``SCHEDULER_TRUSTED_PROXIES`` names the peer. uvicorn's
httptools parser bounds neither the size of a request line and its headers
nor the time a client may take to send them (a slow client holds its
connection open for ever): :class:`BoundedHead` adds both. :class:`ApiServer`
lets requests that only wait (``?wait=``) answer as soon as a stop begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from settings import Settings


class BoundedHead(HttpToolsProtocol):
    """httptools' protocol with a cap on a request head's bytes and on the time to send it.

    A head over ``max_head_bytes`` (request target plus every header name and
    value) is answered 431 and the connection closed; a connection that has not
    completed a head ``head_timeout`` seconds after it opened, or after the
    head's first byte, is closed.
    """

    max_head_bytes = 32 * 1024
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        text = b"Request header fields too large"
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[431],
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: " + str(len(text)).encode("ascii") + b"\r\n",
                    b"connection: close\r\n\r\n",
                    text,
                ]
            )
        )
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            # Raised inside the parser's callback: uvicorn answers through send_400_response.
            raise ValueError("request head too large")

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bounded_head(max_head_bytes: int, head_timeout: float) -> type[BoundedHead]:
    """A :class:`BoundedHead` with these bounds (uvicorn takes a protocol class)."""
    return type(
        "BoundedHead",
        (BoundedHead,),
        {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout},
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` for the API, edge bounds included."""
    trusted = list(settings.trusted_proxies)
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "http": bounded_head(settings.max_header_bytes, settings.header_timeout_seconds),
        # Only named proxies may say who the client is; otherwise the peer is.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "access_log": False,  # the app logs one line per request itself
        "log_config": None,  # keep the process's logging (text or JSON) for uvicorn's lines
        "timeout_graceful_shutdown": 30,
        # Longer than the idle timeout of common load balancers and clients'
        # pools (60 s), so the server is never the side that closes a
        # keep-alive connection a client is about to reuse.
        "timeout_keep_alive": 75,
    }


class ApiServer(uvicorn.Server):
    """uvicorn, calling ``on_stop`` once a stop begins, before it waits for open requests.

    uvicorn's graceful shutdown lets every open request finish (up to
    ``timeout_graceful_shutdown``): a request holding a run wait would keep
    the process that long and then be cut off unanswered.
    """

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_stop()
        await super().shutdown(sockets)


def serve(app: Any, settings: Settings, on_stop: Callable[[], None]) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, as ``uvicorn.run`` would (exit status 3 when
    it never started), calling ``on_stop`` as the stop begins."""
    config = uvicorn.Config(app, log_level="info", **server_options(settings))
    server = ApiServer(config, on_stop)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
