"""The middleware every request passes through, the router's own answers included.

Litestar builds ``Litestar(middleware=[...])`` into each route's own stack, so
what the router answers by itself (404 for an unknown path, 405) never passes
through it. Those answers too must carry a request id, a log line and metrics
(route ``unmatched``), the security headers, and count against their caller's
rate limit; so this middleware wraps the app's ASGI handler instead, in the
order given (outermost first, as in a ``middleware`` list). The app's
exception handler sits inside all of it: every error it renders passes out
through each layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar import Litestar
from litestar.types import ASGIApp

Middleware = Callable[[ASGIApp], ASGIApp]


def around_every_request(app: Litestar, middleware: Sequence[Middleware]) -> Litestar:
    """Wrap ``app``'s handler in ``middleware``, the first one outermost."""
    handler = app.asgi_handler
    for layer in reversed(middleware):
        handler = layer(handler)
    app.asgi_handler = handler
    return app
