"""The console's session: a cookie holding an access token, and the CSRF token bound to it.

The cookie is the same access token ``/api/auth/login`` answers: logout,
revocation and a change of the user's role or password end it like any other.
It is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's
page sends it), scoped to ``/ui`` (the API never sees it), and ``Secure`` when
the deployment's public URL is https.

Every state-changing form carries a CSRF token: an HMAC of the session's token
family (shared by every renewal of one sign-in) under the JWT secret, so it
stays valid while the session is renewed, dies with it, and cannot be made
without the cookie's content, which no page can read.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

CONSOLE_PATH = "/ui"
STATIC_PATH = f"{CONSOLE_PATH}/static/"
SESSION_COOKIE = "scheduler_session"
CSRF_FIELD = "csrf_token"
"""The form field (or ``X-CSRF-Token`` header) a state-changing request carries it in."""


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(f"{CONSOLE_PATH}/")


def console_authorization(cookies: Mapping[str, str]) -> str | None:
    """The credential a console request carries, as an ``Authorization`` value (or None)."""
    token = cookies.get(SESSION_COOKIE, "").strip()
    return f"Bearer {token}" if token else None


def csrf_token(secret: str, token_family: str) -> str:
    """The CSRF token of a session (the token family of its sign-in)."""
    message = f"console-csrf:{token_family}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def csrf_matches(secret: str, token_family: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is this session's CSRF token (compared in constant time)."""
    if not token_family or not presented:
        return False
    return hmac.compare_digest(csrf_token(secret, token_family), presented)


def secure_cookies(public_url: str) -> bool:
    """Cookies are ``Secure`` when browsers reach the API over https."""
    return public_url.lower().startswith("https://")
