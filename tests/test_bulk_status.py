"""Bulk pause and resume, and the status history every status change leaves."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client

from tests.conftest import Stack
from tests.helpers import Api, assert_error, unique
from tests.temporal import describe_schedule


def _status(api: Api, task_id: int) -> str:
    status: str = api.get(f"/api/tasks/{task_id}").json()["data"]["status"]
    return status


def _paused(stack: Stack, task_id: int) -> bool:
    described = describe_schedule(stack.temporal_address, task_id)
    assert described is not None
    return described.schedule.state.paused


def _bulk(api: Api, action: str, **selectors: Any) -> dict[str, Any]:
    response = api.post(f"/api/tasks/{action}", json=selectors)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_pause_and_resume_by_name_type_and_ids(stack: Stack, admin: Api) -> None:
    prefix = unique("nightly")
    shells = [admin.create_task(name=f"{prefix}-{n}") for n in range(2)]
    http = admin.create_task(
        name=f"{prefix}-ping", task_type="http", parameters={"url": "http://127.0.0.1:9/"}
    )
    everyone = sorted(t["id"] for t in [*shells, http])

    paused = _bulk(admin, "pause", name=prefix.upper())  # substring, case-insensitive
    assert paused == {"changed": 3, "ids": everyone, "failed": []}
    for task_id in everyone:
        assert _status(admin, task_id) == "Inactive"
        assert _paused(stack, task_id)

    resumed = _bulk(admin, "resume", name=prefix, task_type="shell")
    assert resumed == {"changed": 2, "ids": sorted(t["id"] for t in shells), "failed": []}
    assert not _paused(stack, shells[0]["id"]) and _paused(stack, http["id"])

    # Tasks already in the wanted status are not changed again.
    again = _bulk(admin, "resume", ids=everyone)
    assert again == {"changed": 1, "ids": [http["id"]], "failed": []}
    assert _bulk(admin, "resume", ids=everyone)["changed"] == 0


def test_a_schedule_that_cannot_be_updated_leaves_its_task_unchanged(
    stack: Stack, admin: Api
) -> None:
    healthy, broken = admin.create_task(), admin.create_task()

    async def drop_schedule() -> None:
        client = await Client.connect(stack.temporal_address)
        await client.get_schedule_handle(f"task-{broken['id']}").delete()

    asyncio.run(drop_schedule())
    unknown = 2**31 - 2
    result = _bulk(admin, "pause", ids=[healthy["id"], broken["id"], unknown])
    assert result["changed"] == 1 and result["ids"] == [healthy["id"]]
    assert [f["id"] for f in result["failed"]] == sorted([broken["id"], unknown])
    assert all(isinstance(f["error"], str) and f["error"] for f in result["failed"])
    assert _status(admin, healthy["id"]) == "Inactive"
    assert _status(admin, broken["id"]) == "Active"
    history = admin.get(f"/api/tasks/{broken['id']}").json()["data"]["status_history"]
    assert [change["status"] for change in history] == ["Active"]


def test_selectors_are_required_and_validated(admin: Api, viewer: Api) -> None:
    assert_error(admin.post("/api/tasks/pause", json={}), 422, "VALIDATION_ERROR")
    assert_error(admin.post("/api/tasks/resume", json={"ids": []}), 422, "VALIDATION_ERROR")
    assert_error(admin.post("/api/tasks/pause", json={"owner": "x"}), 422, "VALIDATION_ERROR")
    assert_error(admin.post("/api/tasks/pause", json={"ids": ["1"]}), 422, "VALIDATION_ERROR")
    assert_error(
        viewer.post("/api/tasks/pause", json={"ids": [1]}), 403, "INSUFFICIENT_PERMISSIONS"
    )


def test_status_history_shows_every_change_and_who_made_it(admin: Api, operator: Api) -> None:
    task = admin.create_task()
    task_id = task["id"]
    assert operator.patch(f"/api/tasks/{task_id}", json={"status": "Inactive"}).status_code == 200
    # A change of another field leaves no entry.
    assert operator.patch(f"/api/tasks/{task_id}", json={"max_retries": 1}).status_code == 200
    body = {k: task[k] for k in ("name", "task_type", "schedule", "parameters")}
    assert admin.put(f"/api/tasks/{task_id}", json={**body, "status": "Active"}).status_code == 200
    _bulk(operator, "pause", ids=[task_id])

    detail = admin.get(f"/api/tasks/{task_id}").json()["data"]
    history = [
        (change["status"], change["changed_by"], change["via"])
        for change in detail["status_history"]
    ]
    assert history == [
        ("Inactive", "operator", "bulk"),
        ("Active", "admin", "replace"),
        ("Inactive", "operator", "patch"),
        ("Active", "admin", "create"),
    ]
    times = [change["changed_at"] for change in detail["status_history"]]
    assert times == sorted(times, reverse=True) and all(t.endswith("Z") for t in times)


def test_status_history_keeps_the_newest_twenty(admin: Api) -> None:
    task = admin.create_task()
    for _ in range(12):
        assert _bulk(admin, "pause", ids=[task["id"]])["changed"] == 1
        assert _bulk(admin, "resume", ids=[task["id"]])["changed"] == 1
    history = admin.get(f"/api/tasks/{task['id']}").json()["data"]["status_history"]
    assert len(history) == 20
    assert history[0]["status"] == "Active" and history[0]["via"] == "bulk"
