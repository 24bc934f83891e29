"""Rate limits of the contract, enforced per class of endpoint.

- ``auth``  (``/api/auth/...`` and the console's ``/ui/login``): per client IP;
- ``tasks`` (``/api/tasks``, ``/api/task-runs``, ``/api/schedules``, ``/api/workers``): per
  user or API key;
- ``system`` (``/api/system/...``, ``/api/users``, ``/api/secrets``,
  ``/api/notification-channels``): per user or API key.

The class comes from the route the request matches (its path template, as the
router resolves it: ``//api/auth/login`` is the login route); a request that
matches no route is classed by its normalised path, so probing for routes
spends a budget too. ``/health``, ``/metrics`` and ``/schema`` are never
limited. The caller is the
one authentication found (``scope["auth"]``, set before this runs), so the
budget is spent before any handler runs, even by requests that then fail; a
request without a usable credential (a made-up API key included) counts
against its IP. Every limited response carries ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset``; a refusal is the envelope's 429.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.path import normalize_path

from api.auth.principal import Identity
from api.envelope import error_response
from api.errors import ApiError, ErrorCode
from api.security.rate_limit_store import CounterStore
from api.timestamps import rfc3339

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Limits:
    auth: int
    tasks: int
    system: int


def limit_class(template: str) -> str | None:
    """The class of a route's path template (``/api/tasks/{task_id:int}``), if it is limited."""
    first = template.strip("/").split("/")[:2]
    if first == ["ui", "login"]:
        return "auth"  # the console's sign-in is a login like /api/auth/login
    if first[:1] != ["api"] or len(first) < 2:
        return None
    if first[1] == "auth":
        return "auth"
    if first[1] in {"tasks", "task-runs", "schedules", "workers"}:
        return "tasks"
    if first[1] in {"system", "users", "secrets", "notification-channels"}:
        return "system"
    return None


class Router(Protocol):
    """What the limiter asks of the app's router (``Litestar.asgi_router``).

    Declared here so that no module of ours imports Litestar's private ``_asgi``.
    """

    def handle_routing(self, path: str, method: Any) -> tuple[Any, ...]: ...


def route_template(router: Router, scope: Scope) -> str:
    """The path template of the route ``scope`` matches, as the router will resolve it.

    Without a match (404, 405), the path as the router normalises it.
    """
    path = normalize_path(str(scope.get("path", "")))
    try:
        return str(router.handle_routing(path=path, method=scope.get("method"))[4])
    except HTTPException:
        return path


def _budget_holder(scope: Scope, per_ip: bool) -> str:
    """The caller a request is counted against: its verified credential, else its IP."""
    identity = scope.get("auth")
    caller = identity.caller if isinstance(identity, Identity) and not per_ip else None
    if caller is not None:
        return f"{caller.kind}:{caller.id}"
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


class RateLimiter(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, limits: Limits, store: CounterStore, router: Router) -> None:
        self._limits = limits
        self._store = store
        self._router = router

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        kind = limit_class(route_template(self._router, scope))
        if kind is None:
            await next_app(scope, receive, send)
            return
        limit: int = getattr(self._limits, kind)
        now = int(time.time())
        window = now - now % WINDOW_SECONDS
        reset = window + WINDOW_SECONDS
        holder = _budget_holder(scope, per_ip=kind == "auth")
        count = await self._store.hit(f"{kind}:{holder}:{window}", WINDOW_SECONDS)
        headers = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, limit - count)).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = cast(
                    Message, {**message, "headers": [*message.get("headers", ()), *headers]}
                )
            await send(message)

        if count > limit:
            refusal = error_response(_exceeded(limit, reset, now))
            request: Request[Any, Any, Any] = Request(scope, receive)
            await refusal.to_asgi_response(app=None, request=request)(
                scope, receive, send_with_headers
            )
            return
        await next_app(scope, receive, send_with_headers)


def _exceeded(limit: int, reset: int, now: int) -> ApiError:
    reset_at = rfc3339(datetime.fromtimestamp(reset, UTC))
    return ApiError(
        429,
        ErrorCode.RATE_LIMIT_EXCEEDED,
        "Rate limit exceeded. Try again later.",
        {"limit": limit, "reset_at": reset_at},
        headers={"Retry-After": str(max(1, reset - now))},
    )
