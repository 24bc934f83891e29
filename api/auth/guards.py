"""Route guards: authorisation is declared on the route and reads what authentication found."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from api.auth.permissions import Permission, grants
from api.auth.principal import Identity, Principal
from api.errors import ApiError, ErrorCode


def requires(*permissions: Permission, offline_ok: bool = False) -> Guard:
    """A guard demanding an authenticated caller holding ``permissions`` (none: any caller).

    ``offline_ok`` lets a verified user token through while the database is down
    (see ``Identity.offline``).
    """

    def guard(connection: ASGIConnection[Any, Any, Identity, Any], _: BaseRouteHandler) -> None:
        identity: Identity = connection.auth
        principal = identity.principal_or_raise(offline_ok=offline_ok)
        check_permissions(principal, *permissions)

    return guard


def check_permissions(principal: Principal, *permissions: Permission) -> None:
    """403 ``INSUFFICIENT_PERMISSIONS`` unless ``principal`` holds every one of ``permissions``;
    for a handler whose needs depend on the request."""
    if not grants(principal.permissions, permissions):
        needed = ", ".join(permissions)
        raise ApiError(
            403,
            ErrorCode.INSUFFICIENT_PERMISSIONS,
            f"This action requires the {needed} permission",
            {"required": list(permissions)},
        )


def provide_principal(request: ASGIConnection[Any, Any, Identity, Any]) -> Principal:
    """Dependency: the caller the route's guard let in."""
    return request.auth.principal_or_raise(offline_ok=True)
