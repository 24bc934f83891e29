"""The console's session: sign-in by form, the cookie, CSRF, the CSP, logout and renewal."""

from __future__ import annotations

import pytest

from api.auth.tokens import ACCESS, TokenService
from api.console.session import secure_cookies
from tests.api.console_client import csrf_of, sign_in, signed_in
from tests.in_process import App, another_instance

pytestmark = pytest.mark.one_backend  # the session is HTTP and tokens, not SQL


def test_the_root_and_the_console_lead_to_sign_in(app: App) -> None:
    client = app.client
    client.cookies.clear()
    assert client.get("/", follow_redirects=False).headers["location"] == "/ui"
    assert client.get("/ui", follow_redirects=False).headers["location"] == "/ui/tasks"
    answer = client.get("/ui/tasks?status=Active", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Ftasks%3Fstatus%3DActive"
    login = client.get(answer.headers["location"])
    assert login.status_code == 200
    assert 'name="password"' in login.text
    assert 'value="/ui/tasks?status=Active"' in login.text


def test_a_wrong_password_is_refused_on_the_form(app: App) -> None:
    app.client.cookies.clear()
    answer = app.client.post(
        "/ui/login", data={"username": "admin", "password": "wrong"}, follow_redirects=False
    )
    assert answer.status_code == 401
    assert "Invalid username or password" in answer.text
    assert "set-cookie" not in answer.headers


def test_sign_in_sets_a_strict_httponly_cookie_scoped_to_the_console(app: App) -> None:
    app.client.cookies.clear()
    answer = sign_in(app.client, "admin")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/tasks"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    assert f"max-age={app.settings.access_token_ttl_seconds}" in cookie
    assert "secure" not in cookie  # the public URL is not https here
    app.client.cookies.clear()


def test_secure_cookies_follow_an_https_public_url(app: App) -> None:
    assert not secure_cookies("http://127.0.0.1:8080")
    assert not secure_cookies("")
    with another_instance(app, {"SCHEDULER_PUBLIC_URL": "https://scheduler.example.com"}) as tls:
        tls.client.cookies.clear()
        answer = sign_in(tls.client, "viewer")
        tls.client.cookies.clear()
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower()


def test_pages_carry_a_csp_without_inline_scripts_and_deny_framing(app: App) -> None:
    with signed_in(app.client, "viewer") as client:
        answer = client.get("/ui/tasks")
    assert answer.status_code == 200, answer.text
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text  # no inline script: only <script src=...>
    asset = app.client.get("/ui/static/console.js")
    assert asset.status_code == 200
    assert "content-security-policy" in asset.headers


def test_the_cookie_does_not_authenticate_the_api(app: App) -> None:
    with signed_in(app.client, "admin") as client:
        token = client.cookies.get("scheduler_session")
        assert token
        # The browser would not even send it (Path=/ui); sent anyway, /api ignores it.
        answer = client.get("/api/tasks", headers={"Cookie": f"scheduler_session={token}"})
    assert answer.status_code == 401


def test_a_viewer_sees_no_write_buttons(app: App) -> None:
    with signed_in(app.client, "viewer") as client:
        page = client.get("/ui/tasks")
    assert "New task" not in page.text
    with signed_in(app.client, "operator") as client:
        page = client.get("/ui/tasks")
    assert "New task" in page.text


def test_logout_needs_the_csrf_token_and_revokes_the_token(app: App) -> None:
    with signed_in(app.client, "operator") as client:
        token = client.cookies.get("scheduler_session")
        page = client.get("/ui/tasks")
        forged = client.post("/ui/logout", data={}, follow_redirects=False)
        assert forged.status_code == 403
        assert "security token" in forged.text
        wrong = client.post("/ui/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
        assert wrong.status_code == 403
        assert client.get("/ui/tasks").status_code == 200  # still signed in
        out = client.post("/ui/logout", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"] == "/ui/login"
        assert "max-age=0" in out.headers["set-cookie"].lower()
    # The token the cookie held is revoked like any logged-out token.
    assert (
        app.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    app.client.cookies.set("scheduler_session", token or "", path="/ui")
    again = app.client.get("/ui/tasks", follow_redirects=False)
    app.client.cookies.clear()
    assert again.status_code == 303
    assert again.headers["location"].startswith("/ui/login")


def test_sign_in_never_redirects_off_the_console(app: App) -> None:
    app.client.cookies.clear()
    for target in ("https://evil.example/", "//evil.example/ui/x", "/api/tasks"):
        answer = app.client.post(
            "/ui/login",
            data={"username": "viewer", "password": "view123", "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/ui/tasks", target
    app.client.cookies.clear()


def token_like(app: App, session_token: str, ttl_seconds: int) -> str:
    """An access token of the same sign-in as ``session_token`` with ``ttl_seconds`` to live
    (negative: already expired), signed as the app signs its own."""
    settings = app.settings
    tokens = TokenService(
        settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience, ttl_seconds, ttl_seconds
    )
    token, _ = tokens.reissue_access(tokens.decode(session_token, ACCESS))
    return token


def test_an_active_session_is_renewed_and_an_idle_one_expires(app: App) -> None:
    with signed_in(app.client, "viewer") as client:
        signed = client.cookies.get("scheduler_session") or ""
        domain = next(iter(client.cookies.jar)).domain

        def hold(token: str) -> None:
            """Make the browser's cookie hold ``token`` (as the server would have set it)."""
            client.cookies.set("scheduler_session", token, domain=domain, path="/ui")

        form_token = csrf_of(client.get("/ui/tasks"))
        assert "set-cookie" not in client.get("/ui/tasks").headers  # young: nothing to renew
        # Past half its life (60 s of 3600 left):
        aging = token_like(app, signed, 60)
        hold(aging)
        polled = client.get("/ui/tasks", headers={"X-Console-Poll": "1"})
        assert polled.status_code == 200
        assert "set-cookie" not in polled.headers  # a poll is not activity
        visited = client.get("/ui/tasks")
        assert visited.status_code == 200
        renewed = client.cookies.get("scheduler_session")
        assert renewed and renewed not in (signed, aging)
        assert f"max-age={app.settings.access_token_ttl_seconds}" in (
            visited.headers["set-cookie"].lower()
        )
        # The same sign-in: forms rendered before the renewal still post.
        assert csrf_of(visited) == form_token
        # Idle past its token's life, the session is over.
        hold(token_like(app, signed, -5))
        expired = client.get("/ui/tasks", follow_redirects=False)
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/ui/login")


def test_a_sign_in_posted_from_another_site_is_refused(app: App) -> None:
    app.client.cookies.clear()
    answer = app.client.post(
        "/ui/login",
        data={"username": "viewer", "password": "view123"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers
    same_site = app.client.post(
        "/ui/login",
        data={"username": "viewer", "password": "view123"},
        headers={"Origin": str(app.client.base_url).rstrip("/")},
        follow_redirects=False,
    )
    app.client.cookies.clear()
    assert same_site.status_code == 303
