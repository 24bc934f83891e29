"""``/api/secrets`` and secret references in tasks: values go in and never come out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence.models import Secret
from tests.credential_rows import with_sessions
from tests.helpers import Api, assert_error, unique
from tests.in_process import App

NEVER = "0 0 1 1 *"
UNKNOWN = "NEVER_CREATED"
"""A secret name no test creates."""


def secret_name() -> str:
    return f"S_{uuid.uuid4().hex[:10].upper()}"


def new_secret(admin: Api, value: str | None = None) -> tuple[str, str]:
    """A created secret: ``(name, value)``."""
    name, value = secret_name(), value or f"value-{uuid.uuid4().hex}"
    response = admin.post("/api/secrets", json={"name": name, "value": value})
    assert response.status_code == 201, response.text
    return name, value


def listed(api: Api, name: str) -> dict[str, Any]:
    response = api.get("/api/secrets", params={"page_size": 100})
    assert response.status_code == 200, response.text
    [found] = [item for item in response.json()["data"]["items"] if item["name"] == name]
    return dict(found)


def task_body(parameters: dict[str, Any], task_type: str = "shell") -> dict[str, Any]:
    return {
        "name": unique("secret-task"),
        "task_type": task_type,
        "schedule": NEVER,
        "parameters": parameters,
    }


def test_a_secret_is_created_listed_updated_and_deleted_without_its_value(admin: Api) -> None:
    name, value = secret_name(), "hunter2-" + uuid.uuid4().hex
    created = admin.post("/api/secrets", json={"name": name, "value": value})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert set(data) == {"name", "created_at", "updated_at", "used_by"}
    assert data["name"] == name and data["used_by"] == []
    assert value not in created.text

    entry = listed(admin, name)
    assert entry == data

    updated = admin.put(f"/api/secrets/{name}", json={"value": "next-" + value})
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["updated_at"] > data["updated_at"]
    assert updated.json()["data"]["created_at"] == data["created_at"]
    assert value not in updated.text

    assert admin.delete(f"/api/secrets/{name}").status_code == 200
    assert_error(admin.delete(f"/api/secrets/{name}"), 404, "SECRET_NOT_FOUND")
    assert_error(admin.put(f"/api/secrets/{name}", json={"value": "x"}), 404, "SECRET_NOT_FOUND")


def test_bad_secret_bodies_are_refused(admin: Api) -> None:
    name, _ = new_secret(admin)
    assert_error(
        admin.post("/api/secrets", json={"name": name, "value": "again"}),
        409,
        "DUPLICATE_SECRET_NAME",
    )
    for body in (
        {"name": "has space", "value": "v"},
        {"name": "1starts-with-digit", "value": "v"},
        {"name": "x" * 129, "value": "v"},
        {"name": secret_name(), "value": ""},
        {"name": secret_name(), "value": "nul\x00"},
        {"name": secret_name()},
        {"name": secret_name(), "value": "v", "extra": 1},
    ):
        assert_error(admin.post("/api/secrets", json=body), 422, "VALIDATION_ERROR")
    assert_error(admin.put(f"/api/secrets/{name}", json={}), 422, "VALIDATION_ERROR")


def test_only_system_write_manages_secrets(
    admin: Api, operator: Api, viewer: Api, anonymous: Api
) -> None:
    name, _ = new_secret(admin)
    for api, status in ((operator, 403), (viewer, 403), (anonymous, 401)):
        code = "INSUFFICIENT_PERMISSIONS" if status == 403 else "AUTHENTICATION_REQUIRED"
        assert_error(api.get("/api/secrets"), status, code)
        assert_error(
            api.post("/api/secrets", json={"name": secret_name(), "value": "v"}), status, code
        )
        assert_error(api.put(f"/api/secrets/{name}", json={"value": "v"}), status, code)
        assert_error(api.delete(f"/api/secrets/{name}"), status, code)
    listed(admin, name)  # still there


def test_a_system_write_key_manages_secrets(app: App, admin: Api) -> None:
    created = admin.post(
        "/api/auth/api-keys", json={"name": unique("secrets-key"), "permissions": ["SystemWrite"]}
    )
    assert created.status_code == 201, created.text
    key = Api(app.client, token=created.json()["data"]["api_key"])
    name = secret_name()
    assert key.post("/api/secrets", json={"name": name, "value": "v"}).status_code == 201
    assert key.delete(f"/api/secrets/{name}").status_code == 200


def test_tasks_show_the_reference_never_the_value(admin: Api, viewer: Api) -> None:
    token, token_value = new_secret(admin)
    auth, auth_value = new_secret(admin)
    body_secret, body_value = new_secret(admin)
    shell = admin.post(
        "/api/tasks",
        json=task_body({"command": "echo $TOKEN", "environment": {"TOKEN": {"secret": token}}}),
    )
    assert shell.status_code == 201, shell.text
    http = admin.post(
        "/api/tasks",
        json=task_body(
            {
                "url": "https://example.com/hook",
                "method": "POST",
                "headers": {"Authorization": {"secret": auth}, "X-Plain": "plain"},
                "query": {"key": {"secret": token}, "plain": "1"},
                "body": {"secret": body_secret},
            },
            task_type="http",
        ),
    )
    assert http.status_code == 201, http.text
    shell_id, http_id = shell.json()["data"]["id"], http.json()["data"]["id"]
    assert shell.json()["data"]["parameters"]["environment"] == {"TOKEN": {"secret": token}}
    assert http.json()["data"]["parameters"]["headers"]["Authorization"] == {"secret": auth}

    responses = [
        viewer.get(f"/api/tasks/{shell_id}"),
        viewer.get(f"/api/tasks/{http_id}"),
        viewer.get("/api/tasks", params={"page_size": 100}),
        admin.get(f"/api/tasks/{http_id}"),
        admin.get("/api/secrets", params={"page_size": 100}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        for value in (token_value, auth_value, body_value):
            assert value not in response.text
    http_params = responses[1].json()["data"]["parameters"]
    assert http_params["query"] == {"key": {"secret": token}, "plain": "1"}
    assert http_params["body"] == {"secret": body_secret}

    assert listed(admin, token)["used_by"] == [
        {"id": shell_id, "name": shell.json()["data"]["name"]},
        {"id": http_id, "name": http.json()["data"]["name"]},
    ]
    assert [use["id"] for use in listed(admin, auth)["used_by"]] == [http_id]


@pytest.mark.parametrize(
    ("task_type", "parameters", "field"),
    [
        ("shell", {"command": "true", "environment": {"A": {"secret": UNKNOWN}}}, "environment.A"),
        (
            "python",
            {"script_path": "/opt/job.py", "environment": {"B": {"secret": UNKNOWN}}},
            "environment.B",
        ),
        (
            "http",
            {"url": "https://example.com", "headers": {"X-K": {"secret": UNKNOWN}}},
            "headers.X-K",
        ),
        ("http", {"url": "https://example.com", "query": {"k": {"secret": UNKNOWN}}}, "query.k"),
        (
            "http",
            {"url": "https://example.com", "method": "POST", "body": {"secret": UNKNOWN}},
            "body",
        ),
    ],
)
def test_an_unknown_secret_is_422_naming_the_field(
    admin: Api, task_type: str, parameters: dict[str, Any], field: str
) -> None:
    error = assert_error(
        admin.post("/api/tasks", json=task_body(parameters, task_type)), 422, "VALIDATION_ERROR"
    )
    assert error["error"]["details"]["field"] == f"parameters.{field}"
    assert "unknown secret" in error["error"]["message"]


def test_update_and_patch_refuse_an_unknown_secret(admin: Api) -> None:
    known, _ = new_secret(admin)
    task = admin.create_task(
        parameters={"command": "true", "environment": {"K": {"secret": known}}}
    )
    missing = secret_name()
    patched = admin.patch(
        f"/api/tasks/{task['id']}",
        json={"parameters": {"command": "true", "environment": {"K": {"secret": missing}}}},
    )
    error = assert_error(patched, 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == "parameters.environment.K"
    replaced = admin.put(
        f"/api/tasks/{task['id']}",
        json=task_body({"command": "true", "environment": {"K": {"secret": missing}}}),
    )
    assert_error(replaced, 422, "VALIDATION_ERROR")
    after = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert after["parameters"]["environment"] == {"K": {"secret": known}}


@pytest.mark.parametrize(
    "ref",
    [{"secret": ""}, {"secret": "bad name"}, {"secret": "OK", "extra": 1}, {"name": "OK"}, {}],
)
def test_a_malformed_reference_is_422(admin: Api, ref: dict[str, Any]) -> None:
    body = task_body({"command": "true", "environment": {"K": ref}})
    error = assert_error(admin.post("/api/tasks", json=body), 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"].startswith("parameters.environment")


def test_a_referenced_secret_cannot_be_deleted(admin: Api) -> None:
    name, _ = new_secret(admin)
    task = admin.create_task(parameters={"command": "true", "environment": {"K": {"secret": name}}})
    error = assert_error(admin.delete(f"/api/secrets/{name}"), 409, "SECRET_IN_USE")
    assert error["error"]["details"]["used_by"] == [{"id": task["id"], "name": task["name"]}]
    listed(admin, name)

    assert admin.delete(f"/api/tasks/{task['id']}").status_code == 200
    assert admin.delete(f"/api/secrets/{name}").status_code == 200


def test_plain_values_still_work(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "true", "environment": {"PLAIN": "visible"}})
    assert task["parameters"]["environment"] == {"PLAIN": "visible"}


def test_values_are_sealed_at_rest(app: App, admin: Api) -> None:
    value = "at-rest-" + uuid.uuid4().hex
    name, _ = new_secret(admin, value)

    async def read(sessions: async_sessionmaker[AsyncSession]) -> Secret | None:
        async with sessions() as session:
            found: Secret | None = await session.scalar(select(Secret).where(Secret.name == name))
            return found

    row = with_sessions(app, read)
    assert row is not None
    assert row.key_id == app.settings.payload_keys[0].kid
    assert value.encode() not in row.ciphertext
