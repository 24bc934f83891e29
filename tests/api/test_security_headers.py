"""Hardening at the HTTP edge: security headers on every answer and a body size limit.

Both are the application's (its middleware and Litestar's body limit), so they
run in process; the log check stays on the stack (tests/test_security_headers.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import Api, assert_error, unique
from tests.in_process import App


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", dict(response.headers)
    assert response.headers.get("x-frame-options") == "DENY", dict(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/tasks", 200, None),
        ("GET", "/health", 200, None),
        ("GET", "/metrics", 200, None),
        ("GET", "/schema/openapi.json", 200, None),
        ("GET", "/api/tasks/987654321", 404, "TASK_NOT_FOUND"),
        ("GET", "/api/no-such-route", 404, "NOT_FOUND"),
        ("GET", "/no-such-page", 404, "NOT_FOUND"),
        ("DELETE", "/api/tasks", 405, "METHOD_NOT_ALLOWED"),
        ("PUT", "/health", 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/api/tasks", 422, "VALIDATION_ERROR"),
    ],
)
@pytest.mark.one_backend  # headers and body limits are the HTTP edge's, not the database's
def test_every_answer_carries_the_security_headers(
    admin: Api, method: str, path: str, status: int, code: str | None
) -> None:
    body = {"name": ""} if method == "POST" else None
    response = admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    if code is not None:
        assert_error(response, status, code)
    assert_hardened(response)
    if path.startswith("/api/"):
        assert response.headers.get("cache-control") == "no-store"


@pytest.mark.one_backend
def test_errors_before_any_handler_carry_them_too(anonymous: Api) -> None:
    response = anonymous.get("/api/tasks")
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert_hardened(response)
    malformed = anonymous.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(malformed, 400, "VALIDATION_ERROR")
    assert_hardened(malformed)


def big_task_body(name: str, size: int) -> bytes:
    """A task named ``name`` whose command makes the JSON body ``size`` bytes long."""
    head = f'{{"name": "{name}", "task_type": "shell", "schedule": "0 0 1 1 *", '.encode()
    head += b'"parameters": {"command": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.one_backend
def test_a_body_over_the_limit_is_413_in_the_envelope(app: App, admin: Api) -> None:
    limit = app.settings.max_request_body_bytes
    name = unique("big")
    headers = {"Content-Type": "application/json"}
    response = admin.post("/api/tasks", content=big_task_body(name, limit + 1), headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert_hardened(response)

    def chunks() -> Iterator[bytes]:
        body = big_task_body(name, limit + 4096)
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    # Without a Content-Length (chunked), the limit holds while reading.
    streamed = admin.post("/api/tasks", content=chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")
    # Control: at the limit the body is read (and refused for its content, not its size).
    at_limit = admin.post("/api/tasks", content=big_task_body(name, limit), headers=headers)
    assert at_limit.status_code == 422, at_limit.text
    assert admin.get("/api/tasks", params={"name": name}).json()["data"]["total"] == 0
