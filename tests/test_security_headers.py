"""Hardening: no credential reaches any process's log.

Security headers and the body size limit are the application's own and are held
in process (tests/api/test_security_headers.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Stack
from tests.helpers import PASSWORDS, unique


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30.0) as client:
        yield client


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
