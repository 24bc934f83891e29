"""Who may see a console page: the signed-in principal and the permissions a route demands."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.auth.permissions import Permission, grants
from api.auth.principal import Identity, Principal
from api.errors import ApiError, ErrorCode


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page (or 401 to a poll)."""


def session_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """The principal of the request's session cookie, or None (not signed in, or ended)."""
    identity = connection.scope.get("auth")
    return identity.principal if isinstance(identity, Identity) else None


def signed_in(*permissions: Permission) -> Guard:
    """A guard: a valid session holding ``permissions``; otherwise sign in, or 403."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = session_principal(connection)
        if principal is None:
            raise SignInRequired
        if not grants(principal.permissions, permissions):
            raise ApiError(
                403,
                ErrorCode.INSUFFICIENT_PERMISSIONS,
                f"This action requires the {', '.join(permissions)} permission",
                {"required": list(permissions)},
            )

    return guard


def provide_session_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Dependency: the principal a ``signed_in`` guard let in."""
    principal = session_principal(request)
    if principal is None:
        raise SignInRequired
    return principal


def may(principal: Principal, *permissions: Permission) -> bool:
    """Whether ``principal`` holds ``permissions`` (for showing or hiding a control)."""
    return grants(principal.permissions, permissions)
