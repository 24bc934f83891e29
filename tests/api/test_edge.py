"""What the edge refuses before any handler runs: deep JSON, NUL characters, non-JSON bodies."""

from __future__ import annotations

import json

import pytest

from api.body import MAX_DEPTH
from tests.helpers import Api, assert_error


def nested(depth: int) -> bytes:
    """A task body ``depth`` levels deep: the object, then arrays in ``dependencies``."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return f'{{"name": "deep", "task_type": "shell", "dependencies": {inner}}}'.encode()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_json_nested_too_deep_is_400(admin: Api, depth: int) -> None:
    response = admin.post("/api/tasks", content=nested(depth), headers=JSON)
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["details"] == {"max_depth": MAX_DEPTH}


def test_json_at_the_depth_limit_reaches_the_schema(admin: Api) -> None:
    """64 levels decode; the schema then refuses the value (an array is no task id)."""
    response = admin.post("/api/tasks", content=nested(MAX_DEPTH), headers=JSON)
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert body["error"]["details"]["field"].startswith("dependencies"), body


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/tasks", {"name": "x\x00y", "task_type": "shell"}, "name"),
        (
            "/api/tasks",
            {"name": "a", "task_type": "shell", "parameters": {"command": "echo \x00"}},
            "parameters.command",
        ),
        (
            "/api/tasks",
            {"name": "a", "task_type": "http", "parameters": {"args": ["ok", "b\x00d"]}},
            "parameters.args[1]",
        ),
        ("/api/auth/login", {"username": "admin", "password": "x\x00"}, "password"),
    ],
    ids=["name", "nested-parameter", "list-item", "password"],
)
def test_a_nul_character_in_any_text_is_422(
    admin: Api, path: str, body: dict[str, object], field: str
) -> None:
    response = admin.post(path, content=json.dumps(body), headers=JSON)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == field, error


def test_a_nul_character_in_a_key_is_422(admin: Api) -> None:
    body = {"name": "a", "task_type": "shell", "parameters": {"environment": {"A\x00B": "1"}}}
    response = admin.post("/api/tasks", content=json.dumps(body), headers=JSON)
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["error"]["details"]["field"] == "parameters.environment", error


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_415(admin: Api, content_type: str) -> None:
    body = b'{"name": "a", "task_type": "shell", "parameters": {"command": "true"}}'
    response = admin.post("/api/tasks", content=body, headers={"Content-Type": content_type})
    error = assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert error["error"]["details"] == {"content_type": content_type}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_types_with_parameters_or_suffixes_are_read(admin: Api, content_type: str) -> None:
    response = admin.post(
        "/api/auth/api-keys",
        content=b'{"name": "edge-json", "permissions": ["TaskRead"]}',
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    admin.delete(f"/api/auth/api-keys/{response.json()['data']['id']}")


def test_a_request_without_a_body_may_name_any_type(admin: Api) -> None:
    response = admin.get("/api/tasks", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
