"""Hardening: security headers on every answer, a body size limit, and secret-free logs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from settings import Settings
from tests.conftest import Stack
from tests.helpers import PASSWORDS, Api, assert_error, unique


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30.0) as client:
        yield client


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


def big_task_body(size: int) -> bytes:
    """A task whose command makes the JSON body ``size`` bytes long."""
    head = b'{"name": "big", "task_type": "shell", "schedule": "0 0 1 1 *", '
    head += b'"parameters": {"command": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.one_backend
def test_a_body_over_the_limit_is_413_in_the_envelope(stack: Stack, admin: Api) -> None:
    limit = Settings.from_env(stack.env).max_request_body_bytes
    headers = {"Content-Type": "application/json"}
    response = admin.post("/api/tasks", content=big_task_body(limit + 1), headers=headers)
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert_hardened(response)

    def chunks() -> Iterator[bytes]:
        body = big_task_body(limit + 4096)
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    # Without a Content-Length (chunked), the limit holds while reading.
    streamed = admin.post("/api/tasks", content=chunks(), headers=headers)
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE")
    # Control: at the limit the body is read (and refused for its content, not its size).
    at_limit = admin.post("/api/tasks", content=big_task_body(limit), headers=headers)
    assert at_limit.status_code == 422, at_limit.text
    assert admin.get("/api/tasks", params={"name": "big"}).json()["data"]["total"] == 0


JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
API_KEY = re.compile(r"sk_live_[A-Za-z0-9]{20,}")
AUTH_HEADER = re.compile(r"authorization\s*[:=]|bearer\s+\S", re.IGNORECASE)


def test_no_credential_ever_reaches_a_log(stack: Stack, http: httpx.Client) -> None:
    """Exercise every credential path, then grep every process's log for the secrets."""
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    login = http.post("/api/auth/login", json={"username": "admin", "password": wrong_password})
    assert login.status_code == 401
    http.post("/api/auth/login", json={"username": f"x-{uuid.uuid4().hex}", "password": "p"})
    pair = http.post(
        "/api/auth/login", json={"username": "admin", "password": PASSWORDS["admin"]}
    ).json()["data"]
    rotated = http.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    # The used refresh token again: reuse detection logs a warning, never the token.
    http.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    fresh = http.post(
        "/api/auth/login", json={"username": "operator", "password": PASSWORDS["operator"]}
    ).json()["data"]
    bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert http.get("/api/tasks", headers=bearer).status_code == 200
    admin = http.post(
        "/api/auth/login", json={"username": "admin", "password": PASSWORDS["admin"]}
    ).json()["data"]
    key = http.post(
        "/api/auth/api-keys",
        headers={"Authorization": f"Bearer {admin['access_token']}"},
        json={"name": unique("log-check"), "permissions": ["TaskRead"]},
    ).json()["data"]["api_key"]
    assert http.get("/api/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    forged_key = "sk_live_" + uuid.uuid4().hex
    odd_header = f"Digest {uuid.uuid4().hex}"
    http.get("/api/tasks", headers={"Authorization": f"Bearer {forged_key}"})
    http.get("/api/tasks", headers={"Authorization": odd_header})
    http.get("/api/tasks", headers={"Authorization": f"Bearer {pair['refresh_token']}"})
    assert http.post("/api/auth/logout", headers=bearer).status_code == 200
    http.get("/api/tasks", headers=bearer)  # revoked now

    secrets = [
        wrong_password,
        *PASSWORDS.values(),
        pair["access_token"],
        pair["refresh_token"],
        rotated.json()["data"]["refresh_token"],
        fresh["access_token"],
        admin["access_token"],
        key,
        key.removeprefix("sk_live_"),
        forged_key,
        odd_header,
        stack.env["SCHEDULER_JWT_SECRET"],
    ]
    logs = sorted(stack.data_dir.glob("*.log"))
    assert any(path.name == "api.log" for path in logs), logs
    request_lines = 0
    for path in logs:
        text = path.read_text(errors="replace")
        request_lines += text.count("/api/auth/login")
        for secret in secrets:
            assert secret not in text, f"a credential is in {path.name}"
        for pattern in (JWT, API_KEY, AUTH_HEADER):
            found = pattern.search(text)
            assert found is None, f"{path.name}: {found.group(0)[:20] if found else ''}..."
    # Control: the requests above were logged (by route), so the grep looked at the right files.
    assert request_lines > 0
