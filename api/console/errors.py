"""How the console answers a failure: the sign-in page, or a page saying what the API would."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from api.console.access import SignInRequired
from api.console.render import POLL_HEADER, base_context, console_of
from api.console.session import SESSION_COOKIE, is_console_path
from api.envelope import handle_exception

LOGIN_PATH = "/ui/login"


def sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """To the sign-in page, back here afterwards; a poll gets a bare 401 (its page reloads)."""
    cookies = [console_of(request).cookies.cleared()] if SESSION_COOKIE in request.cookies else []
    if request.headers.get(POLL_HEADER) or request.method != "GET":
        return Response(content="", status_code=401, cookies=cookies, media_type="text/plain")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(
        path=f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303, cookies=cookies
    )


def console_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every failure of a console route: classified as the API classifies it, shown as a page."""
    if isinstance(exc, SignInRequired):
        return sign_in_redirect(request)
    answer = handle_exception(request, exc)
    error = answer.content.error
    status = answer.status_code or 500
    return Template(
        template_name="error.html",
        context={
            **base_context(request),
            "status": status,
            "code": str(error.code),
            "message": error.message,
        },
        status_code=status,
    )


def handle_any(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The app's handler: what the router answers by itself under ``/ui`` (an unknown
    page, a wrong method) is a console page too; everything else is the API's envelope."""
    if is_console_path(request.url.path):
        return console_exception(request, exc)
    return handle_exception(request, exc)
