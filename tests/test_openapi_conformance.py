"""Schemathesis against the live API: every answer is one that ``/schema`` describes.

Every operation of ``/schema/openapi.json`` gets a bounded number of generated
requests, schema-conforming and schema-violating, with an Admin token, and each
answer must conform: no 5xx, a documented status code, the documented content
type, headers and body schema (the envelope of that status), and routes that
declare a security scheme refuse a request without a valid credential.

Writes aimed at small ids (where other tests' objects live) are redirected to
this test's own tasks and run; huge and negative ids are kept, they probe the
edges. Each ``DELETE /api/tasks/{id}`` gets a task of its own, each
``POST /api/auth/logout`` a session of its own, and pause and resume select
only this test's blocker task. Task writes and applied tasks are made inactive,
so no generated command ever runs, and applies never prune (that would delete
every other test's tasks); what the fuzzing created is deleted afterwards.
"""

from __future__ import annotations

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
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Stack
from tests.helpers import Api, unique

# The API under test is the same on either database: what this checks is the
# description of the HTTP surface, not a SQL dialect (tests/test_edge_values.py is).
pytestmark = pytest.mark.one_backend

EXAMPLES = int(os.environ.get("SCHEDULER_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("SCHEDULER_FUZZ_SEED", "")
"""Unset: the same examples every run (CI); a number: another deterministic sample."""
OWN_ID_BELOW = 2**31
"""Path ids from 0 up to here may name other tests' objects: writes go to our own instead."""
TASK_WRITES = {"/api/tasks", "/api/tasks/{task_id}"}
BULK_WRITES = {"/api/tasks/pause", "/api/tasks/resume"}
APPLY = "/api/tasks/apply"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
# Not negative_data_rejection: Litestar takes a repeated scalar query parameter
# (``?task_type=a&task_type=b``) where the document describes one value.


@dataclass
class Own:
    api: Api
    edited_task: int
    triggered_task: int
    run: int
    first_new_task: int
    failures: list[str] = field(default_factory=list)

    def throwaway_task(self) -> int:
        task_id: int = self.api.create_task(name=unique("fuzz-doomed"), status="Inactive")["id"]
        return task_id


@pytest.fixture
def own(stack: Stack) -> Iterator[Own]:
    api = stack.api("admin")
    try:
        # The triggered task waits on a task that never runs: its runs stay Pending and
        # execute nothing, whatever the fuzzing did to the edited task's command.
        blocker = api.create_task(name=unique("fuzz-blocker"), status="Inactive")
        triggered = api.create_task(
            name=unique("fuzz-triggered"), dependencies=[blocker["id"]], status="Inactive"
        )
        edited = api.create_task(name=unique("fuzz-edited"), status="Inactive")
        run = api.trigger(triggered["id"])
        yield Own(api, edited["id"], triggered["id"], run, first_new_task=blocker["id"])
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
    """Point writes at small ids to this test's objects, and keep generated tasks from running."""
    method, params = case.method.upper(), case.path_parameters
    if isinstance(case.query, dict) and case.query.get("wait") in range(1, 301):
        # This test's runs never end, so a valid wait would hold for all of it (out of
        # range values stay: their 422 is checked); tests/*/test_run_wait.py cover waits.
        del case.query["wait"]
    if case.path in TASK_WRITES and method != "DELETE" and isinstance(case.body, dict):
        case.body["status"] = "Inactive"
    if case.path == APPLY and isinstance(case.body, dict):
        # Never prune (it would delete every other test's tasks); what it creates stays inactive.
        case.body["prune"] = False
        tasks = case.body.get("tasks")
        for task in tasks if isinstance(tasks, list) else []:
            if isinstance(task, dict):
                task["status"] = "Inactive"
    if case.path in BULK_WRITES and isinstance(case.body, dict):
        # Only the blocker, whose definition no write reaches: other tests' tasks keep
        # their status, and what a resume activates runs nothing for months.
        case.body["ids"] = [own.first_new_task]
    if method == "GET" or not params:
        return
    task_id, run_id = params.get("task_id"), params.get("run_id")
    if isinstance(task_id, int) and 0 <= task_id < OWN_ID_BELOW:
        if method == "DELETE":
            params["task_id"] = own.throwaway_task()
        elif case.path.endswith("/trigger"):
            params["task_id"] = own.triggered_task
        else:
            params["task_id"] = own.edited_task
    if isinstance(run_id, int) and 0 <= run_id < OWN_ID_BELOW:
        params["run_id"] = own.run


def token_for(case: Case[Any], stack: Stack, own: Own) -> str:
    """The admin session's token, or a fresh session's for a logout (which ends it)."""
    if case.path == "/api/auth/logout":
        fresh = Api(stack.base_url, "admin")  # a login of its own, not the shared session
        try:
            assert fresh.token is not None
            return fresh.token
        finally:
            fresh.close()
    assert own.api.token is not None
    return own.api.token


def test_every_answer_is_one_the_schema_describes(stack: Stack, own: Own) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/schema/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 25, [op.label for op in operations]
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
                redirect_writes(case, own)
                headers: dict[str, Any] = dict(case.headers or {})
                headers["Authorization"] = f"Bearer {token_for(case, stack, own)}"
                response = case.call(base_url=stack.base_url, headers=headers, timeout=30)
                calls += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as exc:  # collected: one run reports every operation's failures
                    own.failures.append(f"{case.method} {case.formatted_path}: {exc}")

            try:
                exercise()
            except Unsatisfiable:
                # Nothing to get wrong (no parameters, no body): no negative cases exist.
                if mode is not GenerationMode.NEGATIVE:
                    raise

    assert calls >= len(operations) * 2
    assert not own.failures, "\n\n".join(sorted(set(own.failures))[:20])
    # The session under test survived the fuzzing.
    with httpx.Client(base_url=stack.base_url, timeout=30.0) as http:
        alive = http.get("/api/auth/validate", headers={"Authorization": f"Bearer {own.api.token}"})
        assert alive.status_code == 200, alive.text
