"""Declarative apply and export: plans, validation, permissions (the app in this process).

These tests share the session's app (and its database) with the other API
tests, so none of them prunes for real: prune's writes, atomicity and
concurrent applies are in test_apply_atomic.py, on a database of their own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import Client, ScheduleDescription

from tests.helpers import Api, assert_error, unique
from tests.in_process import App

pytestmark = pytest.mark.one_backend


def shell(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task_type": "shell",
        "schedule": "0 3 * * *",
        "parameters": {"command": f"echo {name}"},
        "status": "Inactive",  # nothing these tests define ever runs
        **fields,
    }


def http(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "task_type": "http",
        "schedule": "30 3 * * *",
        "parameters": {"url": "https://example.com/hook", "method": "POST"},
        "status": "Inactive",
        **fields,
    }


def apply(api: Api, tasks: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    response = api.post("/api/tasks/apply", json={"tasks": tasks, **options})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def refused(api: Api, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems of a refused apply (422, every one listed)."""
    response = api.post("/api/tasks/apply", json=body)
    error = assert_error(response, 422, "VALIDATION_ERROR")["error"]
    problems: list[dict[str, Any]] = error["details"]["errors"]
    assert error["message"].endswith("nothing was applied"), error
    return problems


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["name"] for entry in entries]


def task_named(api: Api, name: str) -> dict[str, Any] | None:
    items = api.get("/api/tasks", params={"name": name}).json()["data"]["items"]
    found = [task for task in items if task["name"] == name]
    return found[0] if found else None


def describe(app: App, task_id: int) -> ScheduleDescription:
    async def run() -> ScheduleDescription:
        client = await Client.connect(app.temporal_address, namespace=app.namespace)
        return await client.get_schedule_handle(f"task-{task_id}").describe()

    return asyncio.run(run())


def test_apply_creates_the_set_and_applying_it_again_changes_nothing(app: App, admin: Api) -> None:
    extract, load = unique("extract"), unique("load")
    tasks = [shell(extract), http(load, dependencies=[extract])]
    first = apply(admin, tasks)
    assert names(first["create"]) == [extract, load]
    assert first["update"] == first["unchanged"] == first["delete"] == []
    assert first["ids"] == {entry["name"]: entry["id"] for entry in first["create"]}
    created = first["create"][1]["definition"]
    assert created["dependencies"] == [extract]
    assert created["catchup_window_seconds"] is None  # follows the deployment's default
    assert created["timeout_seconds"] == 3600  # task create's defaults filled in
    load_task = task_named(admin, load)
    assert load_task is not None
    assert load_task["dependencies"] == [first["ids"][extract]]
    schedule = describe(app, first["ids"][load])
    assert schedule.schedule.state.paused

    second = apply(admin, tasks)
    assert names(second["unchanged"]) == [extract, load]
    assert second["create"] == second["update"] == []
    assert second["ids"] == first["ids"]
    assert task_named(admin, load) == load_task  # no updated_at change
    assert describe(app, first["ids"][load]).info.last_updated_at == schedule.info.last_updated_at


def test_an_edit_updates_only_that_task_and_names_each_change(app: App, admin: Api) -> None:
    seed, extract, load = unique("seed"), unique("extract"), unique("load")
    before = apply(admin, [shell(seed), shell(extract, dependencies=[seed]), http(load)])
    untouched = task_named(admin, load)
    schedule = describe(app, before["ids"][extract])

    after = apply(
        admin,
        [
            shell(seed),
            shell(extract, schedule="15  4 * * *", max_retries=2, status="Active"),
            http(load),
        ],
    )
    assert names(after["unchanged"]) == [seed, load]
    (update,) = after["update"]
    assert update["name"] == extract and update["id"] == before["ids"][extract]
    assert update["changes"] == {
        "schedule": {"old": "0 3 * * *", "new": "15 4 * * *"},
        "max_retries": {"old": 0, "new": 2},
        "status": {"old": "Inactive", "new": "Active"},
        "dependencies": {"old": [seed], "new": []},
    }
    assert task_named(admin, load) == untouched
    edited = admin.get(f"/api/tasks/{update['id']}").json()["data"]
    assert edited["schedule"] == "15 4 * * *" and edited["dependencies"] == []
    assert edited["status_history"][0]["via"] == "apply"
    assert not describe(app, update["id"]).schedule.state.paused
    assert describe(app, update["id"]).info.last_updated_at != schedule.info.last_updated_at
    # Back to Inactive: nothing these tests define may run.
    apply(admin, [shell(extract)])


def test_a_dry_run_plans_and_writes_nothing(admin: Api) -> None:
    existing = admin.create_task(name=unique("dry-existing"), status="Inactive")
    new = unique("dry-new")
    plan = apply(
        admin,
        [shell(existing["name"], schedule="0 5 * * *"), shell(new)],
        dry_run=True,
    )
    assert plan["dry_run"] is True and plan["ids"] is None
    assert plan["create"][0]["name"] == new and plan["create"][0]["id"] is None
    assert plan["update"][0]["changes"]["schedule"] == {"old": "0 0 1 1 *", "new": "0 5 * * *"}
    assert task_named(admin, new) is None
    assert (
        task_named(admin, existing["name"])
        == admin.get("/api/tasks", params={"name": existing["name"]}).json()["data"]["items"][0]
    )
    assert task_named(admin, existing["name"])["schedule"] == "0 0 1 1 *"  # type: ignore[index]


def test_every_problem_of_every_task_is_listed_and_nothing_is_written(admin: Api) -> None:
    server = admin.create_task(name=unique("on-server"), status="Inactive")
    good, bad, loop_a, loop_b, twin = (
        unique("good"),
        unique("bad"),
        unique("loop-a"),
        unique("loop-b"),
        unique("twin"),
    )
    problems = refused(
        admin,
        {
            "tasks": [
                shell(good, dependencies=[server["name"]]),
                shell(
                    bad,
                    schedule="0 0 * * * *",
                    timezone="Mars/Olympus_Mons",
                    timeout_seconds=0,
                    colour="red",
                    dependencies=[server["id"]],
                ),
                {"name": unique("partial"), "task_type": "shell"},
                shell(loop_a, dependencies=[loop_b]),
                shell(loop_b, dependencies=[loop_a, unique("nowhere")]),
                shell(twin),
                http(twin, parameters={"url": "ftp://example.com"}),
                shell(
                    unique("secretive"),
                    parameters={
                        "command": "true",
                        "environment": {"TOKEN": {"secret": "no_such_secret"}},
                    },
                ),
                shell(unique("odd-type"), task_type="fortran"),
                "not an object",
            ]
        },
    )
    found = {(p["index"], p["field"], p["code"]) for p in problems}
    assert found == {
        (1, "colour", "VALIDATION_ERROR"),
        # Its cron and zone decode; their rules are checked though the rest does not.
        (1, "schedule", "INVALID_SCHEDULE"),
        (1, "timezone", "VALIDATION_ERROR"),
        (1, "timeout_seconds", "VALIDATION_ERROR"),
        (1, "dependencies", "VALIDATION_ERROR"),  # an id: apply takes names
        (2, "schedule", "VALIDATION_ERROR"),  # required
        (3, "dependencies", "DEPENDENCY_CYCLE"),
        (4, "dependencies", "DEPENDENCY_CYCLE"),
        (4, "dependencies", "VALIDATION_ERROR"),  # unknown name
        (5, "name", "VALIDATION_ERROR"),
        (6, "name", "VALIDATION_ERROR"),
        (6, "parameters.url", "VALIDATION_ERROR"),
        (7, "parameters.environment.TOKEN", "VALIDATION_ERROR"),
        (8, "task_type", "VALIDATION_ERROR"),
        (9, "", "VALIDATION_ERROR"),
    }, problems
    cycle = next(p for p in problems if p["index"] == 3 and p["code"] == "DEPENDENCY_CYCLE")
    assert cycle["message"] == f"dependency cycle: {loop_a} -> {loop_b} -> {loop_a}"
    assert [p["index"] for p in problems] == sorted(p["index"] for p in problems)
    assert all(p["task"] is not None for p in problems if p["index"] != 9)
    for name in (good, loop_a, loop_b, twin):
        assert task_named(admin, name) is None

    # A definition that decodes whole meets the cron rule once, in task create's rules.
    problems = refused(admin, {"tasks": [shell(good), shell(bad, schedule="0 0 * * * *")]})
    assert [(p["index"], p["task"], p["field"], p["code"]) for p in problems] == [
        (1, bad, "schedule", "INVALID_SCHEDULE")
    ]
    assert task_named(admin, good) is None


def test_a_cycle_through_a_task_outside_the_set_is_refused(admin: Api) -> None:
    first = apply(admin, [shell(unique("upstream"))])
    (upstream,) = first["create"]
    downstream = admin.create_task(
        name=unique("downstream"), status="Inactive", dependencies=[upstream["id"]]
    )
    problems = refused(
        admin, {"tasks": [shell(upstream["name"], dependencies=[downstream["name"]])]}
    )
    assert [(p["task"], p["code"]) for p in problems] == [(upstream["name"], "DEPENDENCY_CYCLE")]
    assert downstream["name"] in problems[0]["message"]


def test_prune_plans_every_other_task_and_refuses_to_leave_a_dependent(admin: Api) -> None:
    server = admin.create_task(name=unique("prunable"), status="Inactive")
    kept = unique("kept")
    plan = apply(admin, [shell(kept)], prune=True, dry_run=True)
    assert server["name"] in names(plan["delete"])
    assert names(plan["delete"]) == sorted(names(plan["delete"]))
    gone = next(entry for entry in plan["delete"] if entry["name"] == server["name"])
    assert gone["id"] == server["id"] and gone["definition"]["schedule"] == "0 0 1 1 *"

    problems = refused(
        admin,
        {"tasks": [shell(kept, dependencies=[server["name"]])], "prune": True, "dry_run": True},
    )
    assert [(p["index"], p["field"], p["code"]) for p in problems] == [
        (0, "dependencies", "TASK_HAS_DEPENDENTS")
    ]
    assert server["name"] in problems[0]["message"]


def test_request_level_problems_are_listed_in_the_same_shape(admin: Api) -> None:
    problems = refused(admin, {"tasks": [], "prune": "yes"})
    assert [(p["index"], p["field"]) for p in problems] == [(None, "prune")]
    problems = refused(admin, {"tasks": [shell(unique("nul"), schedule="0 0 * * *\x00")]})
    assert [(p["index"], p["field"]) for p in problems] == [(0, "schedule")]
    problems = refused(admin, {"task": []})
    assert [p["index"] for p in problems] == [None]


def test_export_is_a_set_apply_leaves_unchanged(admin: Api) -> None:
    base = unique("exported")
    apply(admin, [shell(base), http(f"{base}-hook", dependencies=[base], jitter_seconds=5)])
    response = admin.get("/api/tasks/export")
    assert response.status_code == 200, response.text
    exported = response.json()["data"]
    by_name = {task["name"]: task for task in exported["tasks"]}
    assert by_name[f"{base}-hook"]["dependencies"] == [base]
    assert by_name[f"{base}-hook"]["jitter_seconds"] == 5
    plan = apply(admin, exported["tasks"])
    assert plan["create"] == plan["update"] == plan["delete"] == []
    assert len(plan["unchanged"]) == len(exported["tasks"])


@pytest.mark.parametrize(
    ("user", "body", "status"),
    [
        ("viewer", {"tasks": []}, 403),
        ("operator", {"tasks": [], "dry_run": True}, 200),
        ("operator", {"tasks": [], "prune": True, "dry_run": True}, 403),
        ("admin", {"tasks": [], "prune": True, "dry_run": True}, 200),
        (None, {"tasks": []}, 401),
    ],
)
def test_who_may_apply(app: App, user: str | None, body: dict[str, Any], status: int) -> None:
    response = app.api(user).post("/api/tasks/apply", json=body)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


@pytest.mark.parametrize(("user", "status"), [("viewer", 200), (None, 401)])
def test_who_may_export(app: App, user: str | None, status: int) -> None:
    assert app.api(user).get("/api/tasks/export").status_code == status


def test_every_field_of_task_create_is_a_field_of_apply_and_export(admin: Api) -> None:
    channel = admin.post(
        "/api/notification-channels",
        json={
            "name": unique("apply-hook"),
            "type": "webhook",
            "config": {"url": "http://127.0.0.1:9/hook"},
        },
    )
    assert channel.status_code == 201, channel.text
    channel_id = channel.json()["data"]["id"]
    name = unique("noisy")
    extras = {
        "notifications": [{"channel_id": channel_id, "on": ["success", "failure", "failure"]}],
        "late_after_seconds": 120,
        "pause_after_failures": 3,
        "redeliver_finished": True,
    }
    plan = apply(admin, [shell(name, **extras)])
    definition = plan["create"][0]["definition"]
    stored = {**extras, "notifications": [{"channel_id": channel_id, "on": ["failure", "success"]}]}
    assert {key: definition[key] for key in extras} == stored
    task = admin.get(f"/api/tasks/{plan['ids'][name]}").json()["data"]
    assert {key: task[key] for key in extras} == stored
    exported = next(
        item
        for item in admin.get("/api/tasks/export").json()["data"]["tasks"]
        if item["name"] == name
    )
    assert {key: exported[key] for key in extras} == stored
    assert apply(admin, [exported])["unchanged"] == [{"name": name, "id": plan["ids"][name]}]
    changed = apply(admin, [shell(name, **{**extras, "pause_after_failures": 5})])
    assert changed["update"][0]["changes"] == {"pause_after_failures": {"old": 3, "new": 5}}

    problems = refused(
        admin,
        {
            "tasks": [
                shell(
                    unique("unheard"),
                    notifications=[{"channel_id": 2**31 - 1, "on": ["failure"]}],
                ),
                shell(
                    unique("twice"),
                    notifications=[
                        {"channel_id": channel_id, "on": ["failure"]},
                        {"channel_id": channel_id, "on": ["success"]},
                    ],
                ),
            ]
        },
    )
    assert [(p["index"], p["field"]) for p in problems] == [
        (0, "notifications[0].channel_id"),
        (1, "notifications[1].channel_id"),
    ]
