"""Bad input to the task API: a 4xx in the error envelope, and nothing half-written.

Every refused write is checked from the outside: the task list total and the
task itself (GET) are unchanged, and for some of them the Temporal schedule
(``task-<id>``) is missing or unchanged as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client, ScheduleDescription
from temporalio.service import RPCError, RPCStatusCode

from tests.helpers import Api, assert_error, unique
from tests.in_process import App

NEVER = "0 0 1 1 *"
"""A cron that does not fire while the tests run."""
UNKNOWN_ID = 2_000_000_000
VALIDATION = "VALIDATION_ERROR"
INVALID_SCHEDULE = "INVALID_SCHEDULE"
DEPENDENCY_CYCLE = "DEPENDENCY_CYCLE"


class _Drop:
    """Marks a field to leave out of an otherwise valid body."""


DROP = _Drop()


def _long_cron() -> str:
    cron = "00," + ",".join(["0"] * 123) + " 0 1 1 *"
    assert len(cron) == 256
    return cron


# -- helpers ---------------------------------------------------------------------


def valid_body(**fields: Any) -> dict[str, Any]:
    """A valid create body with ``fields`` laid over it (``DROP`` removes a field)."""
    body: dict[str, Any] = {
        "name": unique("val"),
        "task_type": "shell",
        "schedule": NEVER,
        "parameters": {"command": "echo hi"},
    }
    for key, value in fields.items():
        if isinstance(value, _Drop):
            body.pop(key, None)
        else:
            body[key] = value
    return body


def task_total(api: Api) -> int:
    response = api.get("/api/tasks", params={"page_size": 1})
    assert response.status_code == 200, response.text
    total: int = response.json()["data"]["total"]
    return total


def tasks_named(api: Api, name: str) -> list[dict[str, Any]]:
    """Tasks whose name is exactly ``name``."""
    response = api.get("/api/tasks", params={"name": name, "page_size": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return [item for item in items if item["name"] == name]


def task_state(api: Api, task_id: int) -> dict[str, Any]:
    """The task's definition as GET shows it (without runs and statistics)."""
    response = api.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    data.pop("recent_runs", None)
    data.pop("execution_stats", None)
    return data


def list_tasks(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def assert_field(body: dict[str, Any], expected: str) -> None:
    """``error.details.field`` is ``expected`` (or starts with it when it ends in ``*``)."""
    details = body["error"]["details"]
    assert isinstance(details, dict), body
    field = details.get("field")
    assert isinstance(field, str), body
    if expected.endswith("*"):
        assert field.startswith(expected[:-1]), body
    else:
        assert field == expected, body


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    """The documented error envelope with this status, whatever its code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body["timestamp"].endswith("Z"), body
    return body


def describe_schedule(app: App, task_id: int) -> ScheduleDescription | None:
    """The Temporal schedule of the task, or None when there is none."""

    async def describe() -> ScheduleDescription | None:
        client = await Client.connect(app.temporal_address, namespace=app.namespace)
        try:
            return await client.get_schedule_handle(f"task-{task_id}").describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return asyncio.run(describe())


def delete_task(api: Api, task_id: int) -> None:
    response = api.delete(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def shared_task(app: App) -> Iterator[dict[str, Any]]:
    """One task for the read-only checks of this module."""
    api = app.api("admin")
    try:
        yield api.create_task(name=unique("shared"))
    finally:
        api.close()


# -- malformed bodies ------------------------------------------------------------

MALFORMED = [
    pytest.param(b'{"name": "x",', 400, id="truncated-json"),
    pytest.param(b"{'name': 'x'}", 400, id="single-quoted-json"),
    pytest.param(b"not json at all", 400, id="not-json"),
    pytest.param(b"", 400, id="empty-body"),
    pytest.param(b"   \n ", 400, id="blank-body"),
    pytest.param(b"[]", 422, id="empty-array"),
    pytest.param(
        b'[{"name": "x", "task_type": "shell", "schedule": "0 0 1 1 *"}]', 422, id="array"
    ),
    pytest.param(b"null", 422, id="null"),
    pytest.param(b'"a string"', 422, id="string"),
    pytest.param(b"42", 422, id="number"),
]


@pytest.mark.parametrize(("raw", "status"), MALFORMED)
def test_malformed_create_body_is_refused(admin: Api, raw: bytes, status: int) -> None:
    before = task_total(admin)
    response = admin.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, status, VALIDATION)
    assert task_total(admin) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(("raw", "status"), MALFORMED)
def test_malformed_update_body_is_refused(admin: Api, method: str, raw: bytes, status: int) -> None:
    task = admin.create_task()
    before = task_state(admin, task["id"])
    response = admin.request(
        method,
        f"/api/tasks/{task['id']}",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, status, VALIDATION)
    assert task_state(admin, task["id"]) == before


# -- field rules on create ---------------------------------------------------------

BAD_CREATES = [
    # wrong types
    pytest.param({"timeout_seconds": "5"}, VALIDATION, "timeout_seconds", id="timeout-str"),
    pytest.param({"timeout_seconds": 5.5}, VALIDATION, "timeout_seconds", id="timeout-float"),
    pytest.param({"max_retries": "1"}, VALIDATION, "max_retries", id="retries-str"),
    pytest.param({"max_retries": True}, VALIDATION, "max_retries", id="retries-bool"),
    pytest.param({"name": 5}, VALIDATION, "name", id="name-int"),
    pytest.param({"name": None}, VALIDATION, "name", id="name-null"),
    pytest.param({"task_type": ["shell"]}, VALIDATION, "task_type", id="task-type-list"),
    pytest.param({"schedule": 5}, VALIDATION, "schedule", id="schedule-int"),
    pytest.param({"dependencies": "1"}, VALIDATION, "dependencies", id="deps-str"),
    pytest.param({"dependencies": ["1"]}, VALIDATION, "dependencies*", id="deps-str-item"),
    pytest.param({"dependencies": {"1": 1}}, VALIDATION, "dependencies", id="deps-object"),
    pytest.param({"parameters": "echo hi"}, VALIDATION, "parameters", id="parameters-str"),
    pytest.param({"parameters": ["echo"]}, VALIDATION, "parameters", id="parameters-list"),
    pytest.param({"status": 1}, VALIDATION, "status", id="status-int"),
    # missing required fields
    pytest.param({"name": DROP}, VALIDATION, "name", id="missing-name"),
    pytest.param({"task_type": DROP}, VALIDATION, "task_type", id="missing-task-type"),
    pytest.param({"schedule": DROP}, VALIDATION, "schedule", id="missing-schedule"),
    # out of range
    pytest.param({"name": ""}, VALIDATION, "name", id="name-empty"),
    pytest.param({"name": "n" * 256}, VALIDATION, "name", id="name-256"),
    pytest.param({"task_type": ""}, VALIDATION, "task_type", id="task-type-empty"),
    pytest.param({"task_type": "t" * 101}, VALIDATION, "task_type", id="task-type-101"),
    pytest.param({"schedule": ""}, VALIDATION, "schedule", id="schedule-empty"),
    pytest.param({"schedule": _long_cron()}, VALIDATION, "schedule", id="schedule-256"),
    pytest.param({"timeout_seconds": 0}, VALIDATION, "timeout_seconds", id="timeout-0"),
    pytest.param({"timeout_seconds": -1}, VALIDATION, "timeout_seconds", id="timeout-neg"),
    pytest.param({"timeout_seconds": 86401}, VALIDATION, "timeout_seconds", id="timeout-86401"),
    pytest.param({"max_retries": -1}, VALIDATION, "max_retries", id="retries-neg"),
    pytest.param({"max_retries": 11}, VALIDATION, "max_retries", id="retries-11"),
    pytest.param({"dependencies": [0]}, VALIDATION, "dependencies*", id="deps-zero"),
    pytest.param({"dependencies": [-3]}, VALIDATION, "dependencies*", id="deps-negative"),
    pytest.param({"status": "Paused"}, VALIDATION, "status", id="status-unknown"),
    # unknown top-level field
    pytest.param({"color": "blue"}, VALIDATION, "color", id="unknown-field"),
    # parameters of the shell type
    pytest.param(
        {"parameters": {"command": "echo hi", "user": "root"}},
        VALIDATION,
        "parameters.user",
        id="unknown-parameter",
    ),
    pytest.param({"parameters": {}}, VALIDATION, "parameters.command", id="no-command"),
    pytest.param({"parameters": DROP}, VALIDATION, "parameters.command", id="no-parameters"),
    pytest.param(
        {"parameters": {"command": ""}}, VALIDATION, "parameters.command", id="empty-command"
    ),
    pytest.param(
        {"parameters": {"command": 5}}, VALIDATION, "parameters.command", id="command-int"
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "shell": "/usr/bin/python3"}},
        VALIDATION,
        "parameters.shell",
        id="shell-not-allowed",
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "working_directory": "tmp/work"}},
        VALIDATION,
        "parameters.working_directory",
        id="relative-working-directory",
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "working_directory": "/tmp/../etc"}},
        VALIDATION,
        "parameters.working_directory",
        id="dotdot-working-directory",
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "environment": "A=1"}},
        VALIDATION,
        "parameters.environment*",
        id="environment-str",
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "environment": {"A": 1}}},
        VALIDATION,
        "parameters.environment*",
        id="environment-int-value",
    ),
    pytest.param(
        {"parameters": {"command": "echo hi", "environment": ["A=1"]}},
        VALIDATION,
        "parameters.environment*",
        id="environment-list",
    ),
    # time zone
    pytest.param({"timezone": "Mars/Olympus_Mons"}, VALIDATION, "timezone", id="bad-timezone"),
    pytest.param({"timezone": 1}, VALIDATION, "timezone", id="timezone-int"),
]

BAD_CRONS = [
    pytest.param("0 0 1 *", id="four-fields"),
    pytest.param("0 0 0 1 1 *", id="six-fields"),
    pytest.param("0 0 L * *", id="L-day-of-month"),
    pytest.param("0 0 15W * *", id="W-day-of-month"),
    pytest.param("0 0 * * 1#2", id="hash-weekday"),
    pytest.param("0 0 ? * *", id="question-mark"),
    pytest.param("@reboot", id="reboot"),
    pytest.param("@every 5m", id="every"),
    pytest.param("61 * * * *", id="minute-61"),
    pytest.param("* 24 * * *", id="hour-24"),
    pytest.param("* * 32 * *", id="day-32"),
    pytest.param("* * * 13 *", id="month-13"),
    pytest.param("* * * * 8", id="weekday-8"),
    pytest.param("*/0 * * * *", id="step-zero"),
    pytest.param("   ", id="blank"),
    pytest.param("every day", id="words"),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_CREATES)
def test_bad_create_is_refused_and_writes_nothing(
    admin: Api, fields: dict[str, Any], code: str, field: str
) -> None:
    before = task_total(admin)
    body = valid_body(**fields)
    error = assert_error(admin.post("/api/tasks", json=body), 422, code)
    assert_field(error, field)
    assert task_total(admin) == before
    name = body.get("name")
    if isinstance(name, str) and 1 <= len(name) <= 255:
        assert tasks_named(admin, name) == []


@pytest.mark.parametrize("cron", BAD_CRONS)
def test_bad_cron_is_invalid_schedule_and_writes_nothing(admin: Api, cron: str) -> None:
    before = task_total(admin)
    body = valid_body(schedule=cron)
    assert_error(admin.post("/api/tasks", json=body), 422, INVALID_SCHEDULE)
    assert task_total(admin) == before
    assert tasks_named(admin, body["name"]) == []


def test_unsupported_task_type_lists_the_supported_ones(admin: Api) -> None:
    before = task_total(admin)
    body = valid_body(task_type="ftp")
    error = assert_error(admin.post("/api/tasks", json=body), 422, VALIDATION)
    assert_field(error, "task_type")
    listed = f"{error['error']['message']} {error['error']['details']}"
    assert "shell" in listed, error
    assert task_total(admin) == before
    assert tasks_named(admin, body["name"]) == []


@pytest.mark.parametrize("cron", ["*/5 * * * *", "@daily", "0 9 * * MON-FRI", "0 0 1 1 *"])
def test_valid_cron_is_accepted_and_scheduled(app: App, admin: Api, cron: str) -> None:
    # Inactive: the schedule exists but is paused, so nothing fires during the tests.
    task = admin.create_task(schedule=cron, status="Inactive")
    try:
        assert task["schedule"] == cron
        assert task["status"] == "Inactive"
        assert task_state(admin, task["id"])["schedule"] == cron
        described = describe_schedule(app, task["id"])
        assert described is not None
        assert described.schedule.state.paused is True
    finally:
        delete_task(admin, task["id"])
    assert describe_schedule(app, task["id"]) is None


def test_valid_timezone_is_accepted_and_reaches_the_schedule(app: App, admin: Api) -> None:
    task = admin.create_task(timezone="Europe/Berlin")
    assert task["timezone"] == "Europe/Berlin"
    assert task_state(admin, task["id"])["timezone"] == "Europe/Berlin"
    described = describe_schedule(app, task["id"])
    assert described is not None
    assert described.schedule.spec.time_zone_name == "Europe/Berlin"


# -- dependencies ----------------------------------------------------------------


def test_unknown_dependency_names_the_missing_ids(admin: Api) -> None:
    existing = admin.create_task()
    before = task_total(admin)
    body = valid_body(dependencies=[existing["id"], UNKNOWN_ID])
    error = assert_error(admin.post("/api/tasks", json=body), 422, VALIDATION)
    assert_field(error, "dependencies")
    assert error["error"]["details"]["missing"] == [UNKNOWN_ID]
    assert task_total(admin) == before
    assert tasks_named(admin, body["name"]) == []

    state = task_state(admin, existing["id"])
    response = admin.patch(f"/api/tasks/{existing['id']}", json={"dependencies": [UNKNOWN_ID]})
    error = assert_error(response, 422, VALIDATION)
    assert error["error"]["details"]["missing"] == [UNKNOWN_ID]
    assert task_state(admin, existing["id"]) == state


def test_self_dependency_is_a_cycle(admin: Api) -> None:
    task = admin.create_task()
    state = task_state(admin, task["id"])
    response = admin.patch(f"/api/tasks/{task['id']}", json={"dependencies": [task["id"]]})
    assert_error(response, 422, DEPENDENCY_CYCLE)
    assert task_state(admin, task["id"]) == state

    body = valid_body(name=task["name"], dependencies=[task["id"]])
    assert_error(admin.put(f"/api/tasks/{task['id']}", json=body), 422, DEPENDENCY_CYCLE)
    assert task_state(admin, task["id"]) == state


def test_detail_lists_every_dependency_in_ascending_order(admin: Api) -> None:
    first, second, third = (admin.create_task()["id"] for _ in range(3))
    task = admin.create_task(dependencies=[third, first, second])
    assert task_state(admin, task["id"])["dependencies"] == [first, second, third]
    assert task_state(admin, first)["dependencies"] == []


def test_direct_cycle_is_refused(admin: Api) -> None:
    a = admin.create_task()
    b = admin.create_task(dependencies=[a["id"]])
    assert b["dependencies"] == [a["id"]]
    state = task_state(admin, a["id"])
    response = admin.patch(f"/api/tasks/{a['id']}", json={"dependencies": [b["id"]]})
    assert_error(response, 422, DEPENDENCY_CYCLE)
    assert task_state(admin, a["id"]) == state
    assert task_state(admin, a["id"])["dependencies"] == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_transitive_cycle_is_refused(admin: Api, method: str) -> None:
    a = admin.create_task()
    b = admin.create_task(dependencies=[a["id"]])
    c = admin.create_task(dependencies=[b["id"]])
    state = task_state(admin, a["id"])
    body: dict[str, Any] = {"dependencies": [c["id"]]}
    if method == "PUT":
        body = valid_body(name=a["name"], dependencies=[c["id"]])
    response = admin.request(method, f"/api/tasks/{a['id']}", json=body)
    assert_error(response, 422, DEPENDENCY_CYCLE)
    assert task_state(admin, a["id"]) == state
    # A harmless change of the same kind is accepted: the refusal was about the cycle.
    other = admin.create_task()
    response = admin.patch(f"/api/tasks/{a['id']}", json={"dependencies": [other["id"]]})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["dependencies"] == [other["id"]]


def test_task_with_dependents_cannot_be_deleted(app: App, admin: Api) -> None:
    a = admin.create_task()
    b = admin.create_task(dependencies=[a["id"]])
    error = assert_error(admin.delete(f"/api/tasks/{a['id']}"), 409, "TASK_HAS_DEPENDENTS")
    assert error["error"]["details"]["dependents"] == [b["id"]]
    assert task_state(admin, a["id"])["name"] == a["name"]
    assert describe_schedule(app, a["id"]) is not None
    assert task_state(admin, b["id"])["dependencies"] == [a["id"]]

    delete_task(admin, b["id"])
    delete_task(admin, a["id"])
    assert_error(admin.get(f"/api/tasks/{a['id']}"), 404, "TASK_NOT_FOUND")
    assert describe_schedule(app, a["id"]) is None


# -- duplicate names -------------------------------------------------------------


def test_duplicate_name_on_create_is_a_conflict(admin: Api) -> None:
    existing = admin.create_task()
    before = task_total(admin)
    body = valid_body(name=existing["name"], schedule="0 12 * * *")
    assert_error(admin.post("/api/tasks", json=body), 409, "DUPLICATE_TASK_NAME")
    assert task_total(admin) == before
    named = tasks_named(admin, existing["name"])
    assert [task["id"] for task in named] == [existing["id"]]
    assert named[0]["schedule"] == NEVER


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_duplicate_name_on_rename_is_a_conflict(admin: Api, method: str) -> None:
    first = admin.create_task()
    second = admin.create_task()
    state = task_state(admin, second["id"])
    body: dict[str, Any] = {"name": first["name"]}
    if method == "PUT":
        body = valid_body(name=first["name"])
    response = admin.request(method, f"/api/tasks/{second['id']}", json=body)
    assert_error(response, 409, "DUPLICATE_TASK_NAME")
    assert task_state(admin, second["id"]) == state
    assert [task["id"] for task in tasks_named(admin, first["name"])] == [first["id"]]


# -- bad updates leave the task unchanged ---------------------------------------------

BAD_PATCHES = [
    pytest.param({"timeout_seconds": "5"}, 422, VALIDATION, "timeout_seconds", id="timeout-str"),
    pytest.param({"timeout_seconds": 0}, 422, VALIDATION, "timeout_seconds", id="timeout-0"),
    pytest.param({"max_retries": 11}, 422, VALIDATION, "max_retries", id="retries-11"),
    pytest.param({"name": ""}, 422, VALIDATION, "name", id="name-empty"),
    pytest.param({"name": None}, 422, VALIDATION, "name", id="name-null"),
    pytest.param({"name": "n" * 256}, 422, VALIDATION, "name", id="name-256"),
    pytest.param({"dependencies": "1"}, 422, VALIDATION, "dependencies", id="deps-str"),
    pytest.param({"status": "Paused"}, 422, VALIDATION, "status", id="status-unknown"),
    pytest.param({"bogus": 1}, 422, VALIDATION, "bogus", id="unknown-field"),
    pytest.param({"task_type": "ftp"}, 422, VALIDATION, "task_type", id="task-type-ftp"),
    pytest.param({"timezone": "Nowhere/Else"}, 422, VALIDATION, "timezone", id="bad-timezone"),
    pytest.param(
        {"parameters": {"command": "echo", "shell": "/usr/bin/python3"}},
        422,
        VALIDATION,
        "parameters.shell",
        id="shell-not-allowed",
    ),
    pytest.param(
        {"parameters": {"shell": "/bin/bash"}},
        422,
        VALIDATION,
        "parameters.command",
        id="no-command",
    ),
    pytest.param(
        {"parameters": {"command": "echo", "working_directory": "/srv/../etc"}},
        422,
        VALIDATION,
        "parameters.working_directory",
        id="dotdot-working-directory",
    ),
    pytest.param(
        {"name": unique("renamed"), "schedule": "61 * * * *"},
        422,
        INVALID_SCHEDULE,
        None,
        id="rename-with-bad-cron",
    ),
    pytest.param(
        {"timeout_seconds": 60, "dependencies": [UNKNOWN_ID]},
        422,
        VALIDATION,
        "dependencies",
        id="unknown-dependency",
    ),
]


@pytest.mark.parametrize(("patch", "status", "code", "field"), BAD_PATCHES)
def test_bad_patch_leaves_task_unchanged(
    admin: Api, patch: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    task = admin.create_task(timeout_seconds=120, max_retries=2)
    before = task_state(admin, task["id"])
    error = assert_error(admin.patch(f"/api/tasks/{task['id']}", json=patch), status, code)
    if field is not None:
        assert_field(error, field)
    assert task_state(admin, task["id"]) == before


BAD_PUTS = [
    pytest.param({"schedule": DROP}, VALIDATION, "schedule", id="missing-schedule"),
    pytest.param({"name": DROP}, VALIDATION, "name", id="missing-name"),
    pytest.param({"schedule": "@reboot"}, INVALID_SCHEDULE, None, id="bad-cron"),
    pytest.param({"timeout_seconds": 86401}, VALIDATION, "timeout_seconds", id="timeout-86401"),
    pytest.param({"max_retries": -1}, VALIDATION, "max_retries", id="retries-neg"),
    pytest.param({"extra": True}, VALIDATION, "extra", id="unknown-field"),
    pytest.param(
        {"parameters": {"command": "echo", "environment": {"A": 1}}},
        VALIDATION,
        "parameters.environment*",
        id="environment-int-value",
    ),
]


@pytest.mark.parametrize(("fields", "code", "field"), BAD_PUTS)
def test_bad_put_leaves_task_unchanged(
    admin: Api, fields: dict[str, Any], code: str, field: str | None
) -> None:
    task = admin.create_task(timeout_seconds=120, max_retries=2)
    before = task_state(admin, task["id"])
    body = valid_body(**{"name": task["name"], "schedule": "0 12 * * *", **fields})
    error = assert_error(admin.put(f"/api/tasks/{task['id']}", json=body), 422, code)
    if field is not None:
        assert_field(error, field)
    assert task_state(admin, task["id"]) == before


# -- the Temporal side of refused writes ------------------------------------------------


def test_refused_creates_leave_no_schedule(app: App, admin: Api) -> None:
    probe = admin.create_task()
    bad_bodies = [
        (valid_body(name=probe["name"]), 409, "DUPLICATE_TASK_NAME"),
        (valid_body(schedule="@reboot"), 422, INVALID_SCHEDULE),
        (valid_body(dependencies=[UNKNOWN_ID]), 422, VALIDATION),
        (valid_body(timezone="Nowhere/Else"), 422, VALIDATION),
        (valid_body(parameters={"command": "x", "shell": "/usr/bin/python3"}), 422, VALIDATION),
    ]
    for body, status, code in bad_bodies:
        assert_error(admin.post("/api/tasks", json=body), status, code)
    next_id = probe["id"] + 1
    assert_error(admin.get(f"/api/tasks/{next_id}"), 404, "TASK_NOT_FOUND")
    assert describe_schedule(app, next_id) is None

    # The check can see a schedule when there is one.
    created = admin.create_task()
    assert describe_schedule(app, created["id"]) is not None
    for task_id in range(next_id, created["id"]):
        assert_error(admin.get(f"/api/tasks/{task_id}"), 404, "TASK_NOT_FOUND")
        assert describe_schedule(app, task_id) is None


def test_refused_updates_leave_the_schedule_unchanged(app: App, admin: Api) -> None:
    other = admin.create_task()
    task = admin.create_task()
    task_id = task["id"]
    before_row = task_state(admin, task_id)
    before = describe_schedule(app, task_id)
    assert before is not None
    assert before.schedule.state.paused is False

    refused: list[tuple[str, dict[str, Any], int, str]] = [
        (
            "PATCH",
            {"schedule": "0 12 * * *", "status": "Inactive", "timezone": "Nowhere/Else"},
            422,
            VALIDATION,
        ),
        ("PATCH", {"schedule": "0 12 * * *", "dependencies": [task_id]}, 422, DEPENDENCY_CYCLE),
        ("PATCH", {"schedule": "0 12 * * *", "name": other["name"]}, 409, "DUPLICATE_TASK_NAME"),
        ("PATCH", {"status": "Inactive", "dependencies": [UNKNOWN_ID]}, 422, VALIDATION),
        ("PATCH", {"schedule": "@reboot", "status": "Inactive"}, 422, INVALID_SCHEDULE),
        (
            "PUT",
            valid_body(name=task["name"], schedule="0 12 * * *", max_retries=99),
            422,
            VALIDATION,
        ),
        (
            "PUT",
            valid_body(
                name=task["name"], schedule="0 12 * * *", status="Inactive", dependencies=[task_id]
            ),
            422,
            DEPENDENCY_CYCLE,
        ),
    ]
    for method, body, status, code in refused:
        assert_error(admin.request(method, f"/api/tasks/{task_id}", json=body), status, code)
        assert task_state(admin, task_id) == before_row
        after = describe_schedule(app, task_id)
        assert after is not None
        assert after.schedule.spec == before.schedule.spec, (method, body)
        assert after.schedule.state.paused is False, (method, body)

    # The check sees a change when there is one.
    response = admin.patch(f"/api/tasks/{task_id}", json={"schedule": "0 12 * * *"})
    assert response.status_code == 200, response.text
    changed = describe_schedule(app, task_id)
    assert changed is not None
    assert changed.schedule.spec != before.schedule.spec


# -- unknown ids, routes and methods ------------------------------------------------------

UNKNOWN_TASK_REQUESTS = [
    pytest.param("GET", f"/api/tasks/{UNKNOWN_ID}", None, id="get"),
    pytest.param("PUT", f"/api/tasks/{UNKNOWN_ID}", "full", id="put"),
    pytest.param("PATCH", f"/api/tasks/{UNKNOWN_ID}", {"timeout_seconds": 60}, id="patch"),
    pytest.param("DELETE", f"/api/tasks/{UNKNOWN_ID}", None, id="delete"),
    pytest.param("POST", f"/api/tasks/{UNKNOWN_ID}/trigger", None, id="trigger"),
    pytest.param("GET", f"/api/tasks/{UNKNOWN_ID}/runs", None, id="runs"),
    pytest.param("GET", f"/api/tasks/{UNKNOWN_ID}/stats", None, id="stats"),
]


@pytest.mark.parametrize(("method", "path", "body"), UNKNOWN_TASK_REQUESTS)
def test_unknown_task_id_is_not_found(
    admin: Api, method: str, path: str, body: dict[str, Any] | str | None
) -> None:
    before = task_total(admin)
    json_body = valid_body() if body == "full" else body
    response = admin.request(method, path, json=json_body)
    error = assert_error(response, 404, "TASK_NOT_FOUND")
    assert str(UNKNOWN_ID) in error["error"]["message"]
    assert task_total(admin) == before


def test_unknown_run_id_is_not_found(admin: Api) -> None:
    response = admin.get(f"/api/task-runs/{UNKNOWN_ID}")
    assert_error(response, 404, "TASK_RUN_NOT_FOUND")


@pytest.mark.parametrize("path", ["/api/nope", "/api/tasks/1/nope", "/api/taskz", "/api/task-runs"])
def test_unknown_route_is_a_404_envelope(admin: Api, path: str) -> None:
    assert_envelope(admin.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/tasks"),
        ("PUT", "/api/tasks"),
        ("POST", "/api/tasks/{id}"),
        ("GET", "/api/tasks/{id}/trigger"),
        ("DELETE", "/api/tasks/{id}/runs"),
        ("POST", "/health"),
    ],
)
def test_wrong_method_is_a_405_envelope(
    admin: Api, shared_task: dict[str, Any], method: str, path: str
) -> None:
    before = task_total(admin)
    response = admin.request(method, path.format(id=shared_task["id"]), json=valid_body())
    assert_envelope(response, 405)
    assert task_total(admin) == before


# -- pagination and filters ------------------------------------------------------------

BAD_PAGES = [
    pytest.param({"page": "0"}, "page", id="page-0"),
    pytest.param({"page": "-1"}, "page", id="page-negative"),
    pytest.param({"page": "abc"}, "page", id="page-abc"),
    pytest.param({"page_size": "0"}, "page_size", id="page-size-0"),
    pytest.param({"page_size": "101"}, "page_size", id="page-size-101"),
    pytest.param({"page_size": "abc"}, "page_size", id="page-size-abc"),
]


@pytest.mark.parametrize("listing", ["tasks", "runs"])
@pytest.mark.parametrize(("params", "field"), BAD_PAGES)
def test_bad_pagination_is_a_validation_error(
    admin: Api, shared_task: dict[str, Any], listing: str, params: dict[str, str], field: str
) -> None:
    path = "/api/tasks" if listing == "tasks" else f"/api/tasks/{shared_task['id']}/runs"
    error = assert_error(admin.get(path, params=params), 422, VALIDATION)
    assert_field(error, field)


@pytest.mark.parametrize("listing", ["tasks", "runs"])
def test_unknown_status_filter_is_refused(
    admin: Api, shared_task: dict[str, Any], listing: str
) -> None:
    path = "/api/tasks" if listing == "tasks" else f"/api/tasks/{shared_task['id']}/runs"
    response = admin.get(path, params={"status": "Bogus"})
    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code, VALIDATION)


def test_pagination_totals_and_order(admin: Api) -> None:
    base = unique("page")
    created = [admin.create_task(name=f"{base}-{i}")["id"] for i in range(5)]
    assert created == sorted(created)

    seen: list[int] = []
    for page in (1, 2, 3):
        data = list_tasks(admin, name=base, page=page, page_size=2)
        assert data["total"] == 5
        assert data["page"] == page
        assert data["page_size"] == 2
        assert data["total_pages"] == 3
        assert len(data["items"]) == (1 if page == 3 else 2)
        seen += [item["id"] for item in data["items"]]
    assert seen == created

    beyond = list_tasks(admin, name=base, page=4, page_size=2)
    assert beyond["items"] == []
    assert beyond["total"] == 5

    everything = list_tasks(admin, name=base)
    assert everything["page"] == 1 and everything["page_size"] == 20
    assert [item["id"] for item in everything["items"]] == created

    whole = list_tasks(admin, page_size=100)
    ids = [item["id"] for item in whole["items"]]
    assert ids == sorted(ids)


def test_name_filter_is_case_insensitive_and_literal(admin: Api) -> None:
    base = unique("flt")
    literal = admin.create_task(name=f"{base}_A%b")
    lookalike = admin.create_task(name=f"{base}Xa1b")
    plain = admin.create_task(name=f"{base}-plain")

    def ids(name: str) -> list[int]:
        return [item["id"] for item in list_tasks(admin, name=name, page_size=100)["items"]]

    assert ids(base.upper()) == [literal["id"], lookalike["id"], plain["id"]]
    assert ids(f"{base.upper()}_a%B") == [literal["id"]]
    assert ids(f"{base}_") == [literal["id"]]
    assert ids(f"{base}%") == []
    assert ids(f"{base}-PLAIN") == [plain["id"]]
    assert ids(f"{base}-nothing") == []


def test_status_and_task_type_filters(admin: Api) -> None:
    base = unique("sts")
    active = admin.create_task(name=f"{base}-on")
    inactive = admin.create_task(name=f"{base}-off", status="Inactive")
    try:
        on = list_tasks(admin, name=base, status="Active")
        assert [item["id"] for item in on["items"]] == [active["id"]]
        assert on["total"] == 1
        off = list_tasks(admin, name=base, status="Inactive")
        assert [item["id"] for item in off["items"]] == [inactive["id"]]
        assert off["items"][0]["status"] == "Inactive"

        shell = list_tasks(admin, name=base, task_type="shell")
        assert [item["id"] for item in shell["items"]] == [active["id"], inactive["id"]]
        assert list_tasks(admin, name=base, task_type="http")["total"] == 0
        assert list_tasks(admin, name=base, task_type="shel")["total"] == 0
    finally:
        delete_task(admin, inactive["id"])


# -- full replace and partial update --------------------------------------------------


def test_put_replaces_the_whole_definition(app: App, admin: Api) -> None:
    dependency = admin.create_task()
    task = admin.create_task(
        parameters={"command": "echo old", "working_directory": "/tmp"},
        timeout_seconds=1800,
        max_retries=3,
        dependencies=[dependency["id"]],
        timezone="Europe/Berlin",
    )
    new_name = unique("replaced")
    body = {
        "name": new_name,
        "task_type": "shell",
        "schedule": "0 12 1 1 *",
        "parameters": {"command": "echo new"},
    }
    response = admin.put(f"/api/tasks/{task['id']}", json=body)
    assert response.status_code == 200, response.text
    state = task_state(admin, task["id"])
    assert response.json()["data"]["updated_at"] == state["updated_at"]
    assert state["name"] == new_name
    assert state["schedule"] == "0 12 1 1 *"
    assert state["parameters"]["command"] == "echo new"
    assert "working_directory" not in state["parameters"]
    assert state["timeout_seconds"] == 3600
    assert state["max_retries"] == 0
    assert state["dependencies"] == []
    assert state["status"] == "Active"
    assert state["timezone"] is None
    assert state["created_at"] == task["created_at"]
    # The dependency lost its dependent, so it can now be deleted.
    delete_task(admin, dependency["id"])
    described = describe_schedule(app, task["id"])
    assert described is not None
    assert described.schedule.spec.time_zone_name in ("UTC", "", None)


def test_patch_changes_only_the_given_fields(app: App, admin: Api) -> None:
    dependency = admin.create_task()
    task = admin.create_task(
        parameters={"command": "echo keep", "working_directory": "/tmp"},
        timeout_seconds=1800,
        max_retries=3,
        dependencies=[dependency["id"]],
    )
    before = task_state(admin, task["id"])
    response = admin.patch(f"/api/tasks/{task['id']}", json={"timeout_seconds": 7200})
    assert response.status_code == 200, response.text
    after = task_state(admin, task["id"])
    assert after["timeout_seconds"] == 7200
    unchanged = {k: v for k, v in before.items() if k not in ("timeout_seconds", "updated_at")}
    assert {k: after[k] for k in unchanged} == unchanged

    schedule_before = describe_schedule(app, task["id"])
    assert schedule_before is not None and schedule_before.schedule.state.paused is False
    response = admin.patch(
        f"/api/tasks/{task['id']}", json={"status": "Inactive", "name": unique("patched")}
    )
    assert response.status_code == 200, response.text
    patched = task_state(admin, task["id"])
    assert patched["status"] == "Inactive"
    assert patched["timeout_seconds"] == 7200
    assert patched["max_retries"] == 3
    assert patched["dependencies"] == [dependency["id"]]
    assert patched["parameters"] == before["parameters"]
    assert patched["schedule"] == before["schedule"]
    schedule_after = describe_schedule(app, task["id"])
    assert schedule_after is not None
    assert schedule_after.schedule.state.paused is True
    assert schedule_after.schedule.spec == schedule_before.schedule.spec
