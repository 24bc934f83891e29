"""Security headers on every response, errors and router answers included.

The console's answers (``/ui``) also carry a Content-Security-Policy that lets
a page load scripts, styles and images from this origin only: no inline
script or style, no ``eval``, no framing, forms posting only here.
"""

from __future__ import annotations

from typing import cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.console.session import STATIC_PATH, is_console_path

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)
NO_REFERRER = (b"referrer-policy", b"no-referrer")
# The console's own forms must name their origin (``no-referrer`` makes a browser
# send ``Origin: null``, which the sign-in form refuses); other sites learn nothing.
SAME_ORIGIN_REFERRER = (b"referrer-policy", b"same-origin")
# API answers carry credentials and live data: never cached by intermediaries.
NO_STORE = (b"cache-control", b"no-store")
CONSOLE_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    b"base-uri 'none'",
)


class SecurityHeaders(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        extra = [*SECURITY_HEADERS]
        path = str(scope.get("path", ""))
        if is_console_path(path):
            extra.extend((SAME_ORIGIN_REFERRER, CONSOLE_CSP))
            if not path.startswith(STATIC_PATH):
                extra.append(NO_STORE)
        else:
            extra.append(NO_REFERRER)
            if path.startswith("/api/"):
                extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = cast(
                    Message, {**message, "headers": [*message.get("headers", ()), *extra]}
                )
            await send(message)

        await next_app(scope, receive, send_with_headers)
