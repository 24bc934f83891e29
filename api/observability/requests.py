"""The outermost ASGI layer: a request id, one log line and the HTTP metrics per request.

It wraps the whole application (router included), because Litestar's own
middleware runs per route and would miss what the router answers itself
(404 for an unknown path, 405), and every response must carry its id.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.principal import Principal
from api.observability.metrics import HttpMetrics
from api.observability.request_id import HEADER, request_id_from
from logging_setup import log_context

log = logging.getLogger("api.requests")

UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404, 405): raw paths never become labels."""


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        id_header = (HEADER, request_id.encode("ascii"))
        status = 500  # what the server answers if the app fails before responding

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), id_header]
                message = cast(Message, {**message, "headers": headers})
            await send(message)

        started = time.perf_counter()
        with log_context(request_id=request_id):
            try:
                await self._app(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method = str(scope.get("method", ""))
        route = str(scope.get("path_template") or UNMATCHED_ROUTE)
        self._metrics.observe(method, route, status, seconds)
        state: dict[str, Any] = scope.get("state") or {}
        principal = state.get("principal")
        user = principal.name if isinstance(principal, Principal) else None
        duration_ms = round(seconds * 1000, 1)
        log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s %s %.1fms user=%s request_id=%s",
            method,
            route,
            status,
            duration_ms,
            user or "-",
            request_id,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user": user,
            },
        )
