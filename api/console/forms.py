"""Form bodies of the console's state-changing requests, CSRF-checked before a handler sees them."""

from __future__ import annotations

from typing import Any

from litestar import Request

from api.console.access import SignInRequired, session_principal
from api.console.render import console_of
from api.console.session import CSRF_FIELD, csrf_matches
from api.errors import ApiError, ErrorCode

CSRF_HEADER = "x-csrf-token"


class Form:
    """The fields of a posted form (the last value of each name, like a browser's form)."""

    def __init__(self, fields: dict[str, str], lists: dict[str, list[str]]) -> None:
        self._fields = fields
        self._lists = lists

    def text(self, name: str, default: str = "") -> str:
        return self._fields.get(name, default)

    def optional(self, name: str) -> str | None:
        """The field stripped, or None when it is absent or blank."""
        value = self._fields.get(name, "").strip()
        return value or None

    def all(self, name: str) -> list[str]:
        return self._lists.get(name, [])

    def values(self) -> dict[str, str]:
        return dict(self._fields)


async def provide_form(request: Request[Any, Any, Any]) -> Form:
    """Dependency: the posted form, once its CSRF token proves it came from a console page.

    A form without the session's token (another site's, a script's) is refused
    with 403 before the handler runs.
    """
    principal = session_principal(request)
    if principal is None:
        raise SignInRequired
    data = await request.form()
    presented = data.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_matches(console_of(request).csrf_secret, principal.token_family, presented):
        raise ApiError(
            403,
            ErrorCode.INSUFFICIENT_PERMISSIONS,
            "The form's security token is missing or wrong; reload the page and try again",
            {"field": CSRF_FIELD},
        )
    fields = {str(key): str(value) for key, value in data.items()}
    lists = {str(key): [str(v) for v in data.getall(key)] for key in data}
    return Form(fields, lists)
