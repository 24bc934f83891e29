"""Request bodies are JSON: a body declared as anything else is a 415 before any handler runs.

A body is present when ``Content-Length`` is above zero or it is sent chunked.
``application/json`` and any ``application/<name>+json`` are accepted, with or
without parameters (``; charset=utf-8``); a body that names no type at all is
read as JSON, as the contract's examples send it. The console's forms (``/ui``)
are the one exception: they post ``application/x-www-form-urlencoded``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from api.console.session import is_console_path
from api.envelope import error_response
from api.errors import ApiError, ErrorCode


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def has_body(scope: Scope) -> bool:
    """Whether the request announces a body (a length above zero, or chunks)."""
    length = (_header(scope, b"content-length") or "").strip()
    if length and length != "0":
        return True
    return "chunked" in (_header(scope, b"transfer-encoding") or "").lower()


def is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class JsonBodiesOnly(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        content_type = _header(scope, b"content-type")
        if content_type is None or is_json(content_type) or not has_body(scope):
            await next_app(scope, receive, send)
            return
        if is_form(content_type) and is_console_path(str(scope.get("path", ""))):
            await next_app(scope, receive, send)
            return
        refusal = error_response(
            ApiError(
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "Request bodies must be JSON (Content-Type: application/json)",
                {"content_type": content_type},
            )
        )
        request: Request[Any, Any, Any] = Request(scope, receive)
        await refusal.to_asgi_response(app=None, request=request)(scope, receive, send)
