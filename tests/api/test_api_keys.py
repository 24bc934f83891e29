"""API keys: shown once, stored as a hash, scoped, expiring, listed and revoked."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.auth.passwords import PasswordHasher
from tests.credential_rows import (
    add_user,
    api_key_row,
    delete_user,
    set_api_key_expiry,
    set_user,
)
from tests.helpers import Api, assert_error, unique
from tests.in_process import App

KEY_FORMAT = re.compile(r"sk_live_[A-Za-z0-9]{32}")


@pytest.fixture
def boss(admin: Api) -> Api:
    return admin


def create(boss: Api, **fields: Any) -> httpx.Response:
    body: dict[str, Any] = {"name": unique("key"), "permissions": ["TaskRead"], **fields}
    return boss.post("/api/auth/api-keys", json=body)


def created(boss: Api, **fields: Any) -> dict[str, Any]:
    response = create(boss, **fields)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def as_key(app: App, key: str) -> Api:
    return Api(app.client, token=key)


def parse(timestamp: str) -> datetime:
    assert timestamp.endswith("Z"), timestamp
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def listed(boss: Api, key_id: str) -> dict[str, Any]:
    page = 1
    while True:
        response = boss.get("/api/auth/api-keys", params={"page": page, "page_size": 100})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        for item in data["items"]:
            if item["id"] == key_id:
                found: dict[str, Any] = item
                return found
        if page * 100 >= data["total"]:
            raise AssertionError(f"key {key_id} is not listed")
        page += 1


def test_create_shows_the_key_once_in_the_documented_shape(boss: Api) -> None:
    name = unique("deployment-service")
    response = create(boss, name=name, permissions=["TaskRead", "TaskWrite", "WorkerRead"])
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert KEY_FORMAT.fullmatch(data["api_key"]), data["api_key"]
    assert data["name"] == name
    assert data["permissions"] == ["TaskRead", "TaskWrite", "WorkerRead"]
    parse(data["created_at"])
    parse(data["expires_at"])
    # Never again: the listing has no secret, in any field.
    row = listed(boss, data["id"])
    assert "api_key" not in row
    assert data["api_key"] not in boss.get("/api/auth/api-keys").text
    assert data["api_key"][8:] not in str(row)
    assert row["name"] == name
    assert data["api_key"].startswith(row["prefix"])


def test_two_keys_never_share_a_secret(boss: Api) -> None:
    keys = {created(boss)["api_key"] for _ in range(5)}
    assert len(keys) == 5


def test_only_a_hash_is_stored(app: App, boss: Api) -> None:
    data = created(boss)
    secret = data["api_key"]
    random_part = secret.removeprefix("sk_live_")
    row = api_key_row(app, data["id"])
    assert row["key_hash"]
    for column, value in row.items():
        text = str(value)
        assert secret not in text, column
        assert random_part not in text, column
        # No long fragment of the secret either (the listed prefix shows at most 4 of 32).
        assert not any(random_part[i : i + 8] in text for i in range(len(random_part) - 7)), column


@pytest.mark.parametrize(
    ("permissions", "field"),
    [
        (["Superuser"], "permissions[0]"),
        (["TaskRead", "taskwrite"], "permissions[1]"),
        (["TaskRead", "WorkerRead", ""], "permissions[2]"),
        ([], "permissions"),
        ("TaskRead", "permissions"),
    ],
    ids=["unknown", "wrong-case", "empty-name", "empty-list", "not-a-list"],
)
def test_permissions_outside_the_documented_set_are_refused(
    boss: Api, permissions: Any, field: str
) -> None:
    name = unique("refused")
    error = assert_error(create(boss, name=name, permissions=permissions), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == field, error
    listing = boss.get("/api/auth/api-keys", params={"page_size": 100}).json()["data"]["items"]
    assert all(item["name"] != name for item in listing)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": "30"}, "expires_in_days"),
        ({"name": ""}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"scope": "all"}, "scope"),
    ],
    ids=["zero-days", "days-as-string", "empty-name", "nul-in-name", "unknown-field"],
)
def test_other_fields_are_validated(boss: Api, fields: dict[str, Any], field: str) -> None:
    error = assert_error(create(boss, **fields), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == field, error


@pytest.mark.parametrize("days", [1, 30, 365])
def test_expires_in_days_is_honoured(boss: Api, days: int) -> None:
    data = created(boss, expires_in_days=days)
    assert parse(data["expires_at"]) - parse(data["created_at"]) == timedelta(days=days)
    assert abs(parse(data["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    row = listed(boss, data["id"])
    assert parse(row["expires_at"]) == parse(data["expires_at"])


def test_a_key_without_expiry(app: App, boss: Api) -> None:
    data = created(boss, expires_in_days=None)
    assert data["expires_at"] is None
    key = as_key(app, data["api_key"])
    try:
        assert key.get("/api/tasks").status_code == 200
    finally:
        key.close()


def test_an_expired_key_is_refused(app: App, boss: Api) -> None:
    data = created(boss, expires_in_days=1)
    key = as_key(app, data["api_key"])
    try:
        assert key.get("/api/tasks").status_code == 200
        set_api_key_expiry(app, data["id"], datetime.now(UTC) - timedelta(seconds=1))
        assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
        assert_error(key.get("/api/auth/validate"), 401, "INVALID_TOKEN")
    finally:
        key.close()


def test_the_list_shows_last_use_and_never_secrets(app: App, boss: Api) -> None:
    data = created(boss, permissions=["WorkerRead"])
    before = listed(boss, data["id"])
    assert before["last_used_at"] is None
    assert before["revoked_at"] is None
    assert before["permissions"] == ["WorkerRead"]
    assert before["created_by"]
    key = as_key(app, data["api_key"])
    try:
        assert key.get("/api/workers").status_code == 200
    finally:
        key.close()
    after = listed(boss, data["id"])
    assert after["last_used_at"] is not None
    assert abs(parse(after["last_used_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert set(after) == set(before)
    assert not any(KEY_FORMAT.search(str(value)) for value in after.values())


def test_revoking_a_key_refuses_it_at_once(app: App, boss: Api) -> None:
    doomed, spared = created(boss), created(boss)
    key, other = as_key(app, doomed["api_key"]), as_key(app, spared["api_key"])
    try:
        assert key.get("/api/tasks").status_code == 200
        response = boss.delete(f"/api/auth/api-keys/{doomed['id']}")
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True, "data": None}
        assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
        assert_error(key.get("/api/auth/validate"), 401, "INVALID_TOKEN")
        assert listed(boss, doomed["id"])["revoked_at"] is not None
        # Revoking again changes nothing; other keys are untouched.
        assert boss.delete(f"/api/auth/api-keys/{doomed['id']}").status_code == 200
        assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
        assert other.get("/api/tasks").status_code == 200
        assert listed(boss, spared["id"])["revoked_at"] is None
    finally:
        key.close()
        other.close()


@pytest.mark.parametrize(
    "key_id", ["00000000-0000-0000-0000-000000000000", "nope", "a%00b", "x" * 300]
)
def test_revoking_an_unknown_key_is_not_found(boss: Api, key_id: str) -> None:
    assert_error(boss.delete(f"/api/auth/api-keys/{key_id}"), 404, "API_KEY_NOT_FOUND")


def test_an_unknown_key_is_refused(app: App) -> None:
    key = as_key(app, "sk_live_" + "A" * 32)
    try:
        assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
    finally:
        key.close()


def test_a_key_authenticates_with_exactly_its_permissions(app: App, boss: Api) -> None:
    data = created(boss, permissions=["TaskRead", "SystemRead", "TaskRead"])
    assert data["permissions"] == ["TaskRead", "SystemRead"]
    task = boss.create_task()
    key = as_key(app, data["api_key"])
    try:
        validated = key.get("/api/auth/validate").json()["data"]
        assert set(validated["permissions"]) == {"TaskRead", "SystemRead"}
        assert validated["kind"] == "api_key"
        assert validated["expires_at"] == int(parse(data["expires_at"]).timestamp())
        assert key.get(f"/api/tasks/{task['id']}").status_code == 200
        assert key.get("/api/system/stats").status_code == 200
        for method, path in [
            ("POST", f"/api/tasks/{task['id']}/trigger"),
            ("PATCH", f"/api/tasks/{task['id']}"),
            ("DELETE", f"/api/tasks/{task['id']}"),
            ("GET", "/api/workers"),
            ("GET", "/api/auth/api-keys"),
        ]:
            body = {"timeout_seconds": 60} if method == "PATCH" else None
            response = key.request(method, path, json=body)
            assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
        unchanged = boss.get(f"/api/tasks/{task['id']}").json()["data"]
        assert unchanged["timeout_seconds"] == task["timeout_seconds"]
        assert boss.get(f"/api/tasks/{task['id']}/runs").json()["data"]["total"] == 0
    finally:
        key.close()
        boss.delete(f"/api/tasks/{task['id']}")


def test_users_without_admin_cannot_manage_keys(operator: Api, boss: Api) -> None:
    victim = created(boss)
    response = operator.post(
        "/api/auth/api-keys", json={"name": unique("op"), "permissions": ["TaskRead"]}
    )
    assert_error(response, 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(operator.get("/api/auth/api-keys"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(
        operator.delete(f"/api/auth/api-keys/{victim['id']}"), 403, "INSUFFICIENT_PERMISSIONS"
    )
    assert listed(boss, victim["id"])["revoked_at"] is None


@pytest.fixture
def creator(app: App) -> tuple[str, Api]:
    """An Admin of its own (its role is changed by the tests) and a client logged in as it."""
    username = unique("creator")
    hasher = PasswordHasher(
        rounds=app.settings.password_hash_rounds, memory_kib=app.settings.password_hash_memory_kib
    )
    add_user(app, username, hasher.hash("creator-pw-1"), role="Admin")
    response = app.client.post(
        "/api/auth/login", json={"username": username, "password": "creator-pw-1"}
    )
    assert response.status_code == 200, response.text
    return username, Api(app.client, token=response.json()["data"]["access_token"])


def key_permissions(key: Api) -> list[str]:
    response = key.get("/api/auth/validate")
    assert response.status_code == 200, response.text
    permissions: list[str] = response.json()["data"]["permissions"]
    return permissions


def test_a_demoted_creators_admin_key_loses_admin(app: App, creator: tuple[str, Api]) -> None:
    username, as_creator = creator
    key = as_key(app, created(as_creator, permissions=["Admin"])["api_key"])
    assert key_permissions(key) == ["Admin"]
    assert key.get("/api/system/stats").status_code == 200
    set_user(app, username, role="Viewer")
    # At once: the key now holds what the creator holds, no more.
    assert key_permissions(key) == ["TaskRead", "WorkerRead", "SystemRead"]
    assert_error(key.post("/api/tasks", json={}), 403, "INSUFFICIENT_PERMISSIONS")
    assert key.get("/api/tasks").status_code == 200
    set_user(app, username, role="Admin")
    assert key_permissions(key) == ["Admin"]


def test_a_key_holds_only_what_both_it_and_its_creator_hold(
    app: App, creator: tuple[str, Api]
) -> None:
    username, as_creator = creator
    key = as_key(app, created(as_creator, permissions=["TaskRead", "TaskDelete"])["api_key"])
    set_user(app, username, role="Operator")
    assert key_permissions(key) == ["TaskRead"]  # Operators may not delete tasks


def test_a_deactivated_or_deleted_creators_key_is_refused(
    app: App, creator: tuple[str, Api]
) -> None:
    username, as_creator = creator
    key = as_key(app, created(as_creator, permissions=["TaskRead"])["api_key"])
    set_user(app, username, is_active=False)
    assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
    set_user(app, username, is_active=True)
    assert key.get("/api/tasks").status_code == 200
    delete_user(app, username)
    assert_error(key.get("/api/tasks"), 401, "INVALID_TOKEN")
