"""A browser-like client of the console in this process: signs in by the form, keeps the cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from litestar import Litestar
from litestar.testing import TestClient

from tests.helpers import PASSWORDS

CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def sign_in(client: TestClient[Litestar], username: str) -> httpx.Response:
    """Post the sign-in form as ``username``; the client's jar keeps the session cookie."""
    return client.post(
        "/ui/login",
        data={"username": username, "password": PASSWORDS[username], "next": "/ui/tasks"},
        follow_redirects=False,
    )


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token a console page's forms carry (every form of the page the same one)."""
    found: set[str] = set(CSRF.findall(page.text))
    assert len(found) == 1, (found, page.text[:2000])
    return found.pop()


@contextmanager
def signed_in(client: TestClient[Litestar], username: str) -> Iterator[TestClient[Litestar]]:
    """``client`` holding ``username``'s console session; the jar is emptied afterwards."""
    client.cookies.clear()
    response = sign_in(client, username)
    assert response.status_code == 303, response.text
    try:
        yield client
    finally:
        client.cookies.clear()
