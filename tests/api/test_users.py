"""Users managed by Admins; each user's own password; sessions that end when a user changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fresh_database
from tests.dev_server import DevServer
from tests.helpers import Api, assert_error, unique
from tests.in_process import App, running_app

PASSWORD = "a-long-pass-1"


def login(app: App, username: str, password: str = PASSWORD) -> Api:
    response = app.client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return Api(app.client, token=response.json()["data"]["access_token"])


def create(admin: Api, **fields: Any) -> dict[str, Any]:
    body = {"username": unique("user"), "password": PASSWORD, "role": "Operator", **fields}
    response = admin.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_an_admin_creates_reads_lists_and_deletes_a_user(app: App, admin: Api) -> None:
    user = create(admin, email="ops@example.com")
    assert set(user) == {"id", "username", "email", "role", "active", "created_at"}
    assert (user["email"], user["role"], user["active"]) == ("ops@example.com", "Operator", True)
    assert admin.get(f"/api/users/{user['id']}").json()["data"] == user
    listing = admin.get("/api/users", params={"page_size": 100}).json()["data"]
    assert user["id"] in {item["id"] for item in listing["items"]}
    assert all("password" not in item and "password_hash" not in item for item in listing["items"])
    as_user = login(app, user["username"])
    assert as_user.post("/api/tasks", json={}).status_code == 422  # an Operator may write
    assert admin.delete(f"/api/users/{user['id']}").status_code == 200
    assert_error(admin.get(f"/api/users/{user['id']}"), 404, "USER_NOT_FOUND")
    assert_error(as_user.get("/api/tasks"), 401, "INVALID_TOKEN")


def test_only_admins_manage_users(operator: Api, viewer: Api, anonymous: Api) -> None:
    for caller, status in ((operator, 403), (viewer, 403), (anonymous, 401)):
        assert caller.get("/api/users").status_code == status
        body = {"username": unique("x"), "password": PASSWORD, "role": "Admin"}
        assert caller.post("/api/users", json=body).status_code == status


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "short1"}, "password"),
        ({"username": "sam", "password": "sam-is-my-name"}, "password"),
        ({"role": "Root"}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"username": "has space"}, "username"),
        ({"is_admin": True}, "is_admin"),
    ],
    ids=["short-password", "password-has-username", "role", "email", "username", "unknown"],
)
def test_bad_user_fields_are_422(admin: Api, fields: dict[str, Any], field: str) -> None:
    body = {"username": unique("user"), "password": PASSWORD, "role": "Viewer", **fields}
    error = assert_error(admin.post("/api/users", json=body), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == field, error


def test_a_taken_username_is_409(admin: Api) -> None:
    user = create(admin)
    body = {"username": user["username"], "password": PASSWORD, "role": "Viewer"}
    assert_error(admin.post("/api/users", json=body), 409, "DUPLICATE_USERNAME")


@pytest.mark.parametrize(
    "change",
    [{"role": "Viewer"}, {"active": False}, {"password": "another-pass-2"}],
    ids=["role", "deactivation", "password"],
)
def test_a_change_to_a_user_ends_its_sessions_at_once(
    app: App, admin: Api, change: dict[str, Any]
) -> None:
    user = create(admin)
    session = login(app, user["username"])
    refresh = app.client.post(
        "/api/auth/login", json={"username": user["username"], "password": PASSWORD}
    ).json()["data"]["refresh_token"]
    assert session.get("/api/tasks").status_code == 200
    response = admin.patch(f"/api/users/{user['id']}", json=change)
    assert response.status_code == 200, response.text
    assert_error(session.get("/api/tasks"), 401, "INVALID_TOKEN")
    again = app.client.post("/api/auth/refresh", json={"refresh_token": refresh})
    assert_error(again, 401, "INVALID_TOKEN")


def test_an_email_change_keeps_the_sessions(app: App, admin: Api) -> None:
    user = create(admin)
    session = login(app, user["username"])
    assert (
        admin.patch(f"/api/users/{user['id']}", json={"email": "new@example.com"}).status_code
        == 200
    )
    assert session.get("/api/tasks").status_code == 200


@pytest.fixture
def own_app(app: App, dev_server: DevServer, tmp_path: Path) -> Iterator[App]:
    """An app of ``app``'s backend on a database of its own: deactivating the seeded
    admin ends its sessions and every token of it, which the session's app shares."""
    with (
        fresh_database(app.backend, tmp_path) as url,
        running_app(app.backend, url, dev_server) as running,
    ):
        yield running


def test_the_last_active_admin_stays(own_app: App) -> None:
    """Demoting, deactivating or deleting every Admin would lock everyone out."""
    app, admin = own_app, own_app.api("admin")
    admins = [
        u
        for u in admin.get("/api/users", params={"page_size": 100}).json()["data"]["items"]
        if u["role"] == "Admin" and u["active"]
    ]
    *others, last = admins
    spare = create(admin, role="Admin")
    as_spare = login(app, spare["username"])
    for other in [*others, last]:
        assert (
            as_spare.patch(f"/api/users/{other['id']}", json={"active": False}).status_code == 200
        )
    assert_error(as_spare.delete(f"/api/users/{spare['id']}"), 409, "LAST_ADMIN")
    assert_error(
        as_spare.patch(f"/api/users/{spare['id']}", json={"role": "Viewer"}), 409, "LAST_ADMIN"
    )
    for other in [*others, last]:
        assert as_spare.patch(f"/api/users/{other['id']}", json={"active": True}).status_code == 200
    assert as_spare.delete(f"/api/users/{spare['id']}").status_code == 200


def test_a_user_changes_its_own_password(app: App, admin: Api) -> None:
    user = create(admin, role="Viewer")
    old_session = login(app, user["username"])
    response = old_session.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-fresh-secret-9"},
    )
    assert response.status_code == 200, response.text
    fresh = Api(app.client, token=response.json()["data"]["access_token"])
    assert fresh.get("/api/tasks").status_code == 200
    assert_error(old_session.get("/api/tasks"), 401, "INVALID_TOKEN")
    login(app, user["username"], "a-fresh-secret-9")
    wrong = app.client.post(
        "/api/auth/login", json={"username": user["username"], "password": PASSWORD}
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"current_password": "wrong-wrong-1", "new_password": "a-fresh-secret-9"},
            "current_password",
        ),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password"),
    ],
    ids=["wrong-current", "too-short", "unchanged"],
)
def test_a_password_change_is_checked(
    app: App, admin: Api, body: dict[str, str], field: str
) -> None:
    user = create(admin, role="Viewer")
    session = login(app, user["username"])
    error = assert_error(session.post("/api/auth/password", json=body), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == field
    assert session.get("/api/tasks").status_code == 200


def test_a_new_password_may_not_hold_the_username(app: App, admin: Api) -> None:
    user = create(admin, role="Viewer")
    session = login(app, user["username"])
    body = {"current_password": PASSWORD, "new_password": f"x{user['username'].upper()}x-long"}
    error = assert_error(session.post("/api/auth/password", json=body), 422, "VALIDATION_ERROR")
    assert "username" in error["error"]["details"]["message"]


def test_an_api_key_has_no_password_to_change(app: App, admin: Api) -> None:
    key = admin.post("/api/auth/api-keys", json={"name": unique("k"), "permissions": ["TaskRead"]})
    as_key = Api(app.client, token=key.json()["data"]["api_key"])
    body = {"current_password": "x", "new_password": "a-fresh-secret-9"}
    assert_error(as_key.post("/api/auth/password", json=body), 403, "INSUFFICIENT_PERMISSIONS")
