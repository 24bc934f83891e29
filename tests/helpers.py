"""Test helpers: an authenticated HTTP client and an "eventually" poller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

PASSWORDS = {"admin": "admin123", "operator": "op123", "viewer": "view123"}

CHEAP_PASSWORD_HASHES = {
    "SCHEDULER_PASSWORD_HASH_ROUNDS": "1",
    "SCHEDULER_PASSWORD_HASH_MEMORY_KIB": "4096",
}
"""Argon2id at a few milliseconds instead of a tenth of a second: the suite logs in,
creates users and fails logins hundreds of times. The deployed cost is held by
tests/test_units.py."""

SMALL_DB_POOLS = {"SCHEDULER_DB_POOL_SIZE": "2"}
"""Connections per process of a test stack or app (as many again in overflow): each
xdist worker keeps its stacks and apps for the session beside the fault tests'
and the benchmarks' own, and all of them must fit in Postgres's default 100
connections. Requests beyond the pool wait for a connection; none is refused."""


def eventually(check: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def login(http: httpx.Client, username: str) -> str:
    """An access token of one of the default users."""
    response = http.post(
        "/api/auth/login", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["access_token"]
    return token


class Api:
    """An HTTP client of the API, optionally authenticated as one of the default users.

    ``target`` is the API's base URL (a client of its own, closed by ``close``)
    or a client to share, such as a Litestar ``TestClient`` of an app in this
    process. ``token`` spares the login (an Argon2 verification) when the
    caller already holds one.
    """

    def __init__(
        self, target: str | httpx.Client, username: str | None = None, *, token: str | None = None
    ) -> None:
        if isinstance(target, str):
            self.http, self._owns_http = httpx.Client(base_url=target, timeout=30.0), True
        else:
            self.http, self._owns_http = target, False
        self.token = token
        if username is not None and token is None:
            self.token = login(self.http, username)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def create_task(self, **fields: Any) -> dict[str, Any]:
        """Create a shell task (defaults filled in) and return its ``data``."""
        body: dict[str, Any] = {
            "name": unique("task"),
            "task_type": "shell",
            "schedule": "0 0 1 1 *",
            "parameters": {"command": "echo hi"},
        }
        body.update(fields)
        response = self.post("/api/tasks", json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def trigger(self, task_id: int) -> int:
        response = self.post(f"/api/tasks/{task_id}/trigger")
        assert response.status_code == 201, response.text
        run_id: int = response.json()["data"]["task_run_id"]
        return run_id

    def run(self, run_id: int) -> dict[str, Any]:
        response = self.get(f"/api/task-runs/{run_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def wait_for_run(self, run_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """The run once it reaches a final status."""

        def finished() -> dict[str, Any] | None:
            run = self.run(run_id)
            return run if run["status"] in {"Completed", "Failed", "Timeout"} else None

        return eventually(finished, timeout=timeout)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error envelope with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body["timestamp"].endswith("Z"), body
    return body
