"""Values at the edges of what each database can hold, answered in the envelope on both backends.

Found by fuzzing (a 5xx on one backend or the other): ids beyond the columns'
integer range and NUL bytes in text are the caller's error, or match nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, unique

BIG = 2**63 + 1
FOUND = [
    ("GET", f"/api/tasks/{2**31}", None),
    ("GET", f"/api/tasks/{BIG}", None),
    ("GET", f"/api/tasks/{BIG}/runs", None),
    ("GET", f"/api/tasks/{BIG}/stats", None),
    ("POST", f"/api/tasks/{BIG}/trigger", None),
    ("GET", f"/api/task-runs/{BIG}", None),
    ("POST", f"/api/task-runs/{BIG}/cancel", None),
    ("GET", "/api/workers/a%00b", None),
    ("GET", "/api/workers/a%00b/stats", None),
    ("GET", "/api/tasks?name=a%00b", None),
    ("GET", f"/api/auth/api-keys?page={BIG}", None),
    ("GET", f"/api/workers?page={BIG}", None),
    ("DELETE", "/api/auth/api-keys/a%00b", None),
    ("POST", "/api/auth/login", {"username": "a\x00b", "password": "x"}),
    ("POST", "/api/auth/api-keys", {"name": "a\x00b", "permissions": ["TaskRead"]}),
    (
        "POST",
        "/api/tasks",
        {
            "name": unique("edge"),
            "task_type": "shell",
            "schedule": "0 0 1 1 *",
            "parameters": {"command": "true"},
            "dependencies": [2**40],
        },
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), FOUND, ids=[f"{m} {p}"[:60] for m, p, _ in FOUND]
)
def test_a_value_the_database_cannot_hold_is_answered_in_the_envelope(
    admin: Api, method: str, path: str, body: Any
) -> None:
    """No 5xx: a value the database cannot hold is the caller's error (or matches nothing)."""
    response = admin.request(method, path, json=body)
    assert response.status_code < 500, response.text
    envelope = response.json()
    if envelope["success"]:  # SQLite stores NUL, so a name filter holding one just finds nothing
        assert method == "GET" and envelope["data"]["total"] == 0, envelope
        return
    assert 400 <= response.status_code < 500, response.text
    assert envelope["error"]["code"] in {
        "VALIDATION_ERROR",
        "TASK_NOT_FOUND",
        "TASK_RUN_NOT_FOUND",
        "WORKER_NOT_FOUND",
        "API_KEY_NOT_FOUND",
    }, envelope
