"""Authentication, once per request: ``request.user`` is the caller, ``request.auth`` the outcome.

The console (``/ui``) is authenticated from its session cookie instead of the
``Authorization`` header, and only there: the cookie is scoped to ``/ui`` by
the browser and never counts for ``/api``, so a page elsewhere cannot make a
browser spend it on the API (see ``api.console.session``).

It never answers by itself. A request without a usable credential goes on
with ``user = None`` and the refusal in ``auth``: the rate limiter charges it
to its IP, and the route's guard (``api.auth.guards.requires``) answers the
401 from inside the app, through the one exception handler. Routes that need
no credential are excluded by path, so nothing is looked up for them.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from api.auth.principal import Authenticator, Identity
from api.console.session import console_authorization, is_console_path

PUBLIC_PATHS = (
    r"^/health/?$",
    r"^/metrics/?$",
    r"^/api/auth/login/?$",
    r"^/api/auth/refresh/?$",
    r"^/schema(/|$)",
    r"^/ui/?$",
    r"^/ui/login/?$",
    r"^/ui/static/",
    r"^/$",
)
"""The routes without a guard: liveness, metrics, signing in, the OpenAPI schema, and the
console's sign-in page, static assets and the redirects to it (``/``, ``/ui``)."""


class Authentication(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp) -> None:
        super().__init__(
            app,
            exclude=list(PUBLIC_PATHS),
            exclude_http_methods=(),  # OPTIONS included: a guard may read the outcome
            scopes={ScopeType.HTTP},
        )

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        authenticator: Authenticator = connection.app.state.authenticator
        if is_console_path(connection.scope["path"]):
            authorization = console_authorization(connection.cookies)
        else:
            authorization = connection.headers.get("authorization")
        try:
            identity = await authenticator.identify(authorization)
        except Exception as exc:  # the guard raises it inside the app: the handler answers
            identity = Identity(refusal=exc)
        return AuthenticationResult(user=identity.principal, auth=identity)
