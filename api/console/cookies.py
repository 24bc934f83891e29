"""The session cookie as the browser is told to keep it."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import Cookie

from api.console.session import CONSOLE_PATH, SESSION_COOKIE


@dataclass(frozen=True)
class SessionCookies:
    secure: bool
    """``Secure`` (sent over https only): when the public URL is https."""
    max_age: int
    """The access token's lifetime: the browser drops the cookie when the token expires."""

    def holding(self, access_token: str) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value=access_token,
            path=CONSOLE_PATH,
            max_age=self.max_age,
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )

    def cleared(self) -> Cookie:
        return Cookie(
            key=SESSION_COOKIE,
            value="",
            path=CONSOLE_PATH,
            max_age=0,
            httponly=True,
            secure=self.secure,
            samesite="strict",
        )
