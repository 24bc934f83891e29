"""Rate limits of the contract, enforced per class of endpoint, as an ASGI layer.

- ``auth``  (``/api/auth/...``): per client IP;
- ``tasks`` (``/api/tasks``, ``/api/task-runs``, ``/api/workers``): per user or API key;
- ``system`` (``/api/system/...``): per user or API key.

``/health``, ``/metrics`` and ``/schema`` are never limited. The caller is told
with a verified token's subject (or the hash of an API key) before any
handler runs, so the budget is spent even by requests that later fail; a
request without a usable credential (a made-up API key included) counts
against its IP. Every limited response carries ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.principal import API_KEY_PREFIX
from api.auth.tokens import ACCESS, TokenError, TokenService
from api.security.rate_limit_store import CounterStore
from api.timestamps import rfc3339

WINDOW_SECONDS = 60
_KNOWN_KEYS_MAX = 10_000


@dataclass(frozen=True)
class Limits:
    auth: int
    tasks: int
    system: int


def limit_class(path: str) -> str | None:
    if path.startswith("/api/auth"):
        return "auth"
    if path.startswith(("/api/tasks", "/api/task-runs", "/api/workers")):
        return "tasks"
    if path.startswith("/api/system"):
        return "system"
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class RateLimiter:
    def __init__(
        self, app: ASGIApp, limits: Limits, store: CounterStore, tokens: TokenService
    ) -> None:
        self._app = app
        self._limits = limits
        self._store = store
        self._tokens = tokens
        # Hashes of keys found live, until when: a key is looked up once a window.
        self._known_keys: dict[str, float] = {}

    async def _live_key(self, scope: Scope, key: str, digest: str) -> bool:
        """Only a stored key gets a budget of its own: made-up keys must not buy fresh ones."""
        now = time.monotonic()
        if self._known_keys.get(digest, 0.0) > now:
            return True
        app = scope.get("app")
        authenticator = getattr(getattr(app, "state", None), "authenticator", None)
        if authenticator is None:
            return False
        try:
            live: bool = await authenticator.api_key_is_live(key)
        except Exception:  # the database is down: the route's guard answers 503
            return False
        if live:
            if len(self._known_keys) >= _KNOWN_KEYS_MAX:
                self._known_keys.clear()
            self._known_keys[digest] = now + WINDOW_SECONDS
        return live

    async def _caller(self, scope: Scope, per_ip: bool) -> str:
        client = scope.get("client")
        ip = f"ip:{client[0]}" if client else "ip:unknown"
        if per_ip:
            return ip
        scheme, _, credential = (_header(scope, b"authorization") or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return ip
        if credential.startswith(API_KEY_PREFIX):
            digest = hashlib.sha256(credential.encode()).hexdigest()
            return f"key:{digest[:32]}" if await self._live_key(scope, credential, digest) else ip
        try:
            return "user:" + self._tokens.decode(credential, ACCESS).subject
        except TokenError:
            return ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = limit_class(scope.get("path", "")) if scope["type"] == ScopeType.HTTP else None
        if kind is None:
            await self._app(scope, receive, send)
            return
        limit: int = getattr(self._limits, kind)
        now = int(time.time())
        window = now - now % WINDOW_SECONDS
        reset = window + WINDOW_SECONDS
        count = await self._store.hit(
            f"{kind}:{await self._caller(scope, kind == 'auth')}:{window}", WINDOW_SECONDS
        )
        headers = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, limit - count)).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
        ]
        if count > limit:
            await self._refuse(send, limit, reset, now, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = cast(
                    Message, {**message, "headers": [*message.get("headers", ()), *headers]}
                )
            await send(message)

        await self._app(scope, receive, send_with_headers)

    async def _refuse(
        self, send: Send, limit: int, reset: int, now: int, headers: list[tuple[bytes, bytes]]
    ) -> None:
        reset_at = rfc3339(datetime.fromtimestamp(reset, UTC))
        body = json.dumps(
            {
                "success": False,
                "error": {
                    "code": "RATE_LIMIT_EXCEEDED",
                    "message": "Rate limit exceeded. Try again later.",
                    "details": {"limit": limit, "reset_at": reset_at},
                },
                "timestamp": rfc3339(datetime.fromtimestamp(now, UTC)),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(max(1, reset - now)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
