"""Schemathesis against the live API: no 5xx, and every answer is an envelope.

Every operation of ``/schema/openapi.json`` gets a bounded number of
generated requests, schema-conforming and schema-violating, with an Admin
token. Writes aimed at small ids (where other tests' objects live) are
redirected to this test's own tasks and run; huge and negative ids are kept,
they probe the edges. ``POST /api/auth/logout`` (it would end the session
under test) and ``DELETE /api/tasks/{id}`` are left out; what the fuzzing
created is deleted afterwards.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from tests.conftest import Stack
from tests.helpers import Api, unique

EXAMPLES = int(os.environ.get("SCHEDULER_FUZZ_EXAMPLES", "12"))
SEED = os.environ.get("SCHEDULER_FUZZ_SEED", "")
"""Unset: the same examples every run (CI); a number: another deterministic sample."""
OWN_ID_BELOW = 2**31
"""Path ids from 0 up to here may name other tests' objects: writes go to our own instead."""


@dataclass
class Own:
    edited_task: int
    triggered_task: int
    run: int
    first_new_task: int
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def own(stack: Stack) -> Iterator[tuple[Api, Own]]:
    api = stack.api("admin")
    try:
        # The triggered task waits on a task that never runs: its runs stay Pending and
        # execute nothing, whatever the fuzzing did to the edited task's command.
        blocker = api.create_task(name=unique("fuzz-blocker"))
        triggered = api.create_task(name=unique("fuzz-triggered"), dependencies=[blocker["id"]])
        edited = api.create_task(name=unique("fuzz-edited"))
        run = api.trigger(triggered["id"])
        yield api, Own(edited["id"], triggered["id"], run, first_new_task=blocker["id"])
    finally:
        delete_tasks_from(api, blocker["id"])
        api.close()


def delete_tasks_from(api: Api, first: int) -> None:
    """Delete every task with an id from ``first`` on, dependents before what they need."""
    for _ in range(5):
        listing = api.get("/api/tasks", params={"page_size": 100, "page": 1}).json()["data"]
        pages = (listing["total"] + 99) // 100
        ids = [
            task["id"]
            for page in range(1, pages + 1)
            for task in api.get("/api/tasks", params={"page_size": 100, "page": page}).json()[
                "data"
            ]["items"]
            if task["id"] >= first
        ]
        if not ids:
            return
        for task_id in sorted(ids, reverse=True):
            api.delete(f"/api/tasks/{task_id}")


def redirect_writes(case: Case[Any], own: Own) -> None:
    """Point writes at small ids to this test's objects."""
    method, params = case.method.upper(), case.path_parameters
    if method == "GET" or not params:
        return
    task_id, run_id = params.get("task_id"), params.get("run_id")
    if isinstance(task_id, int) and 0 <= task_id < OWN_ID_BELOW:
        params["task_id"] = (
            own.triggered_task if case.path.endswith("/trigger") else own.edited_task
        )
    if isinstance(run_id, int) and 0 <= run_id < OWN_ID_BELOW:
        params["run_id"] = own.run


def problem(case: Case[Any], status: int, content: bytes) -> str | None:
    """What is wrong with an answer, or ``None``."""
    if status >= 500:
        return f"{status} server error"
    if status == 204 or case.path in ("/metrics",):
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} with a body that is not JSON: {content[:200]!r}"
    if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
        return f"{status} outside the envelope: {content[:200]!r}"
    if body["success"]:
        if status >= 400 or "data" not in body:
            return f"{status} success envelope without data or with an error status"
        return None
    error, timestamp = body.get("error"), body.get("timestamp")
    if status < 400:
        return f"{status} with an error envelope"
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and error["code"]
        and isinstance(error.get("message"), str)
        and "details" in error
        and isinstance(timestamp, str)
        and timestamp.endswith("Z")
    ):
        return f"{status} error envelope incomplete: {content[:200]!r}"
    return None


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_envelope(
    stack: Stack, own: tuple[Api, Own]
) -> None:
    api, mine = own
    assert api.token is not None
    token = api.token
    schema = (
        schemathesis.openapi.from_url(f"{stack.base_url}/schema/openapi.json")
        .exclude(method="POST", path="/api/auth/logout")
        .exclude(method="DELETE", path="/api/tasks/{task_id}")
    )
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 20, [op.label for op in operations]
    calls = 0

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=not SEED,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @seed(int(SEED or 0))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case: Case[Any]) -> None:
                nonlocal calls
                redirect_writes(case, mine)
                headers: dict[str, Any] = dict(case.headers or {})
                headers["Authorization"] = f"Bearer {token}"
                response = case.call(base_url=stack.base_url, headers=headers, timeout=30)
                calls += 1
                found = problem(case, response.status_code, response.content)
                if found is not None:
                    mine.failures.append(f"{case.method} {case.formatted_path}: {found}")

            try:
                exercise()
            except Unsatisfiable:
                # Nothing to get wrong (no parameters, no body): no negative cases exist.
                if mode is not GenerationMode.NEGATIVE:
                    raise

    assert calls >= len(operations) * 2
    assert not mine.failures, "\n".join(sorted(set(mine.failures))[:30])
    # The session under test survived the fuzzing.
    with httpx.Client(base_url=stack.base_url, timeout=30.0) as http:
        alive = http.get("/api/auth/validate", headers={"Authorization": f"Bearer {token}"})
        assert alive.status_code == 200, alive.text


# What the fuzzing found (5xx on one backend or the other), pinned down as plain cases.
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
            "name": unique("fuzz-found"),
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
def test_what_the_fuzzing_found_is_answered_in_the_envelope(
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
