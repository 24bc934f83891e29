"""Route guards: authorisation is declared on the route, never checked inside handlers."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.auth.permissions import Permission, grants
from api.auth.principal import Authenticator, Principal
from api.errors import ApiError, ErrorCode


def requires(*permissions: Permission, offline_ok: bool = False) -> Guard:
    """A guard that authenticates the caller and demands ``permissions`` (none: any caller).

    ``offline_ok`` lets a verified user token through while the database is down
    (see ``Authenticator.authenticate``).
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authenticator: Authenticator = connection.app.state.authenticator
        principal = await authenticator.authenticate(
            connection.headers.get("authorization"), offline_ok=offline_ok
        )
        if not grants(principal.permissions, permissions):
            needed = ", ".join(permissions)
            raise ApiError(
                403,
                ErrorCode.INSUFFICIENT_PERMISSIONS,
                f"This action requires the {needed} permission",
                {"required": list(permissions)},
            )
        connection.state.principal = principal

    return guard


def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Dependency: the principal the route's guard authenticated."""
    principal: Principal = request.state.principal
    return principal
