"""``/ui/login`` and ``/ui/logout``: the console's session, made by the API's own sign-in."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from api.auth.principal import Principal
from api.auth.service import AuthService
from api.console.access import signed_in
from api.console.errors import LOGIN_PATH
from api.console.forms import Form
from api.console.render import console_of, page
from api.console.session import CONSOLE_PATH
from api.errors import ApiError, ErrorCode

HOME = f"{CONSOLE_PATH}/tasks"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site only, never another origin."""
    if not target:
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(f"{CONSOLE_PATH}/"):
        return HOME
    if target.startswith("//") or "\\" in target:
        return HOME
    return target


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    """A browser's cross-site POST names its origin: refuse one that names another host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


class SignInController(Controller):
    path = "/"

    @get("/login")
    async def login_page(
        self, request: Request[Any, Any, Any], next: str | None = None
    ) -> Template:
        return page(request, "login.html", next=safe_next(next), error=None, username="")

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
        auth_service: AuthService,
    ) -> Template | Redirect:
        username, password = data.get("username", ""), data.get("password", "")
        target = safe_next(data.get("next"))
        if not _same_origin(request):
            raise ApiError(403, ErrorCode.INSUFFICIENT_PERMISSIONS, "Sign-in from another site")
        try:
            tokens = await auth_service.login(username, password)
        except ApiError as exc:
            if exc.status_code not in (401, 429):
                raise
            return page(
                request,
                "login.html",
                status_code=exc.status_code,
                next=target,
                error=exc.message,
                username=username,
            )
        cookie = console_of(request).cookies.holding(tokens.access_token)
        return Redirect(path=target, status_code=303, cookies=[cookie])

    @post("/logout", status_code=303, guards=[signed_in()])
    async def logout(
        self,
        request: Request[Any, Any, Any],
        form: Form,
        principal: Principal,
        auth_service: AuthService,
    ) -> Redirect:
        await auth_service.logout(principal)
        return Redirect(
            path=LOGIN_PATH, status_code=303, cookies=[console_of(request).cookies.cleared()]
        )
