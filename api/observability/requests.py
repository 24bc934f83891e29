"""A request id, one log line and the HTTP metrics per request, router answers included."""

from __future__ import annotations

import logging
import time
from typing import cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.principal import Identity
from api.observability.metrics import HttpMetrics
from api.observability.request_id import HEADER, request_id_from
from logging_setup import log_context

log = logging.getLogger("api.requests")

UNMATCHED_ROUTE = "unmatched"
"""The route label of requests no route matched (404, 405): raw paths never become labels."""


class RequestObserver(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: HttpMetrics) -> None:
        self._metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
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
                await next_app(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started, request_id)

    def _record(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method = str(scope.get("method", ""))
        route = str(scope.get("path_template") or UNMATCHED_ROUTE)
        self._metrics.observe(method, route, status, seconds)
        identity = scope.get("auth")
        caller = identity.caller if isinstance(identity, Identity) else None
        user = caller.name if caller is not None else None
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
