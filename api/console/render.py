"""Console responses: a page or fragment with the context every template gets, a redirect.

Every response to a signed-in user's action slides the session: once its
access token is past half its lifetime, the cookie gets a fresh one of the same
sign-in. Polls of live fragments (header ``X-Console-Poll``) do not count as
activity, so a page left open still ends its session when the token expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from api.auth.permissions import Permission
from api.auth.service import AuthService
from api.console.access import may, session_principal
from api.console.cookies import SessionCookies
from api.console.nav import nav_of
from api.console.session import SESSION_COOKIE, csrf_token

POLL_HEADER = "x-console-poll"


@dataclass(frozen=True)
class Console:
    """What console responses need; the lifespan keeps one on ``app.state.console``."""

    cookies: SessionCookies
    csrf_secret: str
    auth_service: AuthService
    backfill_max_fires: int
    """``SCHEDULER_BACKFILL_MAX_FIRES``: the backfill form counts fires up to one past it."""


def console_of(request: Request[Any, Any, Any]) -> Console:
    console: Console = request.app.state.console
    return console


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every template may use: the principal, its CSRF token, what it may do."""
    principal = session_principal(request)
    console = console_of(request)
    family = principal.token_family if principal is not None else None
    return {
        "principal": principal,
        "csrf_value": csrf_token(console.csrf_secret, family) if family else "",
        "can_write": principal is not None and may(principal, Permission.TASK_WRITE),
        "can_delete": principal is not None and may(principal, Permission.TASK_DELETE),
        "current_path": request.url.path,
        "nav": nav_of(request.app),
    }


def page(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Template:
    """``template`` rendered with the base context and ``context`` (a page or a fragment)."""
    return Template(
        template_name=template,
        context={**base_context(request), **context},
        status_code=status_code,
        cookies=renewal(request),
    )


fragment = page
"""A fragment (a template without the layout) is rendered the same way."""


def redirect(
    request: Request[Any, Any, Any], path: str, *, cookies: list[Cookie] | None = None
) -> Redirect:
    """A 303 to ``path`` (after a form: the browser then GETs it)."""
    return Redirect(path=path, status_code=303, cookies=[*renewal(request), *(cookies or [])])


def renewal(request: Request[Any, Any, Any]) -> list[Cookie]:
    """The cookie with a fresh token when the session's is past half its life, else nothing."""
    principal = session_principal(request)
    if principal is None or principal.expires_at is None or request.headers.get(POLL_HEADER):
        return []
    console = console_of(request)
    if principal.expires_at - time.time() > console.auth_service.access_ttl / 2:
        return []
    renewed = console.auth_service.renew(request.cookies.get(SESSION_COOKIE, ""))
    return [console.cookies.holding(renewed[0])] if renewed else []
