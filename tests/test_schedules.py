"""Tasks and their Temporal schedules stay in step; schedules fire by themselves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from temporalio.client import Client, ScheduleDescription

from tests.conftest import Stack
from tests.helpers import Api, eventually
from tests.temporal import describe_schedule


def fires_like_croniter(described: ScheduleDescription, cron: str, tz: str = "UTC") -> None:
    """Temporal's next fire times are the ones croniter computes for the same cron."""
    upcoming = list(described.info.next_action_times)[:3]
    assert len(upcoming) == 3, upcoming
    it = croniter(cron, datetime.now(ZoneInfo(tz)))
    expected = [it.get_next(datetime).astimezone(UTC) for _ in range(3)]
    assert [t.astimezone(UTC) for t in upcoming] == expected


def test_schedule_carries_the_cron_and_follows_the_status(stack: Stack, admin: Api) -> None:
    task = admin.create_task(schedule="15 3 * * 1-5", timezone="Europe/Berlin")
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    fires_like_croniter(described, "15 3 * * 1-5", "Europe/Berlin")
    assert described.schedule.spec.time_zone_name == "Europe/Berlin"
    assert described.schedule.state.paused is False

    response = admin.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "Inactive"
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    assert described.schedule.state.paused is True
    assert described.schedule.state.note

    response = admin.patch(f"/api/tasks/{task['id']}", json={"status": "Active"})
    assert response.status_code == 200, response.text
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    assert described.schedule.state.paused is False


def test_created_inactive_task_has_a_paused_schedule(stack: Stack, admin: Api) -> None:
    task = admin.create_task(status="Inactive")
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    assert described.schedule.state.paused is True


def test_put_replaces_the_cron_in_temporal(stack: Stack, admin: Api) -> None:
    task = admin.create_task(schedule="@daily")
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    fires_like_croniter(described, "0 0 * * *")
    body = {
        "name": task["name"],
        "task_type": "shell",
        "schedule": "*/10 * * * *",
        "parameters": {"command": "true"},
    }
    response = admin.put(f"/api/tasks/{task['id']}", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["schedule"] == "*/10 * * * *"
    try:
        described = describe_schedule(stack.temporal_address, task["id"])
        assert described is not None
        fires_like_croniter(described, "*/10 * * * *")
    finally:
        # The stack is the session's: a task firing every 10 minutes would move
        # the system-wide counts other modules read.
        admin.delete(f"/api/tasks/{task['id']}")


def test_delete_removes_schedule_and_history(stack: Stack, admin: Api) -> None:
    task = admin.create_task()
    run_id = admin.wait_for_run(admin.trigger(task["id"]))["id"]
    response = admin.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "data": None}
    assert describe_schedule(stack.temporal_address, task["id"]) is None
    assert admin.get(f"/api/tasks/{task['id']}").status_code == 404
    assert admin.get(f"/api/task-runs/{run_id}").status_code == 404


def test_inactive_task_can_still_be_triggered(admin: Api) -> None:
    task = admin.create_task(status="Inactive", parameters={"command": "echo by-hand"})
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed"
    assert run["result"] == "by-hand\n"


def test_overlapping_fire_is_skipped_and_counted(stack: Stack, admin: Api) -> None:
    task = admin.create_task(parameters={"command": "sleep 20"})

    async def fire_twice() -> None:
        client = await Client.connect(stack.temporal_address)
        handle = client.get_schedule_handle(f"task-{task['id']}")
        await handle.trigger()  # the schedule's own overlap policy applies: Skip
        await asyncio.sleep(2)
        await handle.trigger()

    asyncio.run(fire_twice())
    stats = eventually(
        lambda: (
            (s := admin.get(f"/api/tasks/{task['id']}/stats").json()["data"])["runs_skipped"] and s
        ),
        timeout=30,
    )
    assert stats["runs_skipped"] == 1
    runs = admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]
    assert runs["total"] == 1
    assert runs["items"][0]["trigger"] == "schedule"
    admin.post(f"/api/task-runs/{runs['items'][0]['id']}/cancel")
