"""``GET /api/tasks/{id}/fires``: the ledger of real fires against the dev server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from tests.conftest import Stack
from tests.helpers import Api, assert_error, eventually


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ledger(api: Api, task_id: int, **params: str) -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}/fires", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_the_range_is_checked(admin: Api) -> None:
    task = admin.create_task()
    path = f"/api/tasks/{task['id']}/fires"
    now = datetime.now(UTC)
    too_long = {"from": _z(now - timedelta(days=8)), "to": _z(now)}
    assert_error(admin.get(path, params=too_long), 422, "VALIDATION_ERROR")
    backwards = {"from": _z(now), "to": _z(now - timedelta(hours=1))}
    assert_error(admin.get(path, params=backwards), 422, "VALIDATION_ERROR")
    naive = {"from": "2026-12-01T10:00:00"}
    assert_error(admin.get(path, params=naive), 422, "VALIDATION_ERROR")
    purged = {"from": _z(now - timedelta(days=400))}
    assert_error(admin.get(path, params=purged), 422, "VALIDATION_ERROR")
    assert_error(admin.get(path, params={"from": "yesterday"}), 422, "VALIDATION_ERROR")
    assert_error(admin.get("/api/tasks/2147483600/fires"), 404, "TASK_NOT_FOUND")


def test_the_default_range_is_the_last_24_hours_and_future_fires_are_upcoming(
    admin: Api,
) -> None:
    task = admin.create_task(schedule="0 * * * *")
    ledger = _ledger(admin, task["id"])
    assert _at(ledger["to"]) - _at(ledger["from"]) == timedelta(hours=24)
    # Created moments ago: no fire of the last day belongs to it.
    assert ledger["fires"] == []
    assert ledger["summary"] == {
        "expected": 0,
        "ran": 0,
        "skipped_overlap": 0,
        "skipped_paused": 0,
        "missed": 0,
        "upcoming": 0,
    }
    ahead = _ledger(admin, task["id"], **{"from": _z(datetime.now(UTC))})
    assert len(ahead["fires"]) == 24
    assert {fire["outcome"] for fire in ahead["fires"]} == {"upcoming"}
    assert all(_at(f["at"]).minute == 0 and f["task_run_id"] is None for f in ahead["fires"])
    assert ahead["summary"]["upcoming"] == 24 and ahead["summary"]["expected"] == 0
    # The stack is the session's: an hourly fire would move the counts other modules read.
    admin.delete(f"/api/tasks/{task['id']}")


# The ledger's queries are held on both backends by tests/persistence; this real
# minute-boundary fire (through Temporal and the workers) runs once.
@pytest.mark.slow
@pytest.mark.one_backend
def test_paused_and_overlapped_fires_are_told_apart_from_runs(stack: Stack, admin: Api) -> None:
    """Also the cron fire itself: an every-minute task runs on the minute boundary."""
    created = datetime.now(UTC)
    # Paused right after creation: its next fire is skipped_paused.
    paused = admin.create_task(schedule="* * * * *", parameters={"command": "true"})
    assert admin.patch(f"/api/tasks/{paused['id']}", json={"status": "Inactive"}).status_code == 200
    # A run the schedule started is still open at the next fire: skipped_overlap.
    busy = admin.create_task(schedule="* * * * *", parameters={"command": "sleep 100"})
    # Runs every minute: its next fire ran.
    ticking = admin.create_task(schedule="* * * * *", parameters={"command": "echo tick"})

    async def start_from_schedule() -> None:
        client = await Client.connect(stack.temporal_address)
        await client.get_schedule_handle(f"task-{busy['id']}").trigger()

    asyncio.run(start_from_schedule())
    eventually(
        lambda: admin.get(f"/api/tasks/{busy['id']}/runs").json()["data"]["total"] >= 1,
        timeout=30,
    )
    # The first minute boundary after that run is open (the fire of the
    # boundary that may have passed while it started is not looked at).
    opened = datetime.now(UTC)
    next_minute = opened.replace(second=0, microsecond=0) + timedelta(minutes=1)
    since = {"from": _z(created)}

    def first_fire(task_id: int, outcome: str) -> dict[str, Any] | None:
        fires = _ledger(admin, task_id, **since)["fires"]
        at_next = [fire for fire in fires if _at(fire["at"]) == next_minute]
        return at_next[0] if at_next and at_next[0]["outcome"] == outcome else None

    try:
        ran = eventually(lambda: first_fire(ticking["id"], "ran"), timeout=100, interval=1)
        assert _at(ran["at"]) == next_minute and ran["task_run_id"] is not None
        tick = admin.wait_for_run(ran["task_run_id"])
        assert tick["status"] == "Completed" and tick["result"] == "tick\n", tick
        assert (tick["trigger"], tick["triggered_by"]) == ("schedule", None), tick
        assert _at(tick["scheduled_at"]) == next_minute, tick
        assert 0 <= (_at(tick["started_at"]) - next_minute).total_seconds() < 30, tick
        eventually(lambda: first_fire(paused["id"], "skipped_paused"), timeout=30, interval=1)
        skipped = eventually(
            lambda: first_fire(busy["id"], "skipped_overlap"), timeout=30, interval=1
        )
        assert _at(skipped["at"]) == next_minute and skipped["task_run_id"] is None
        summary = _ledger(admin, busy["id"], **since)["summary"]
        assert summary["skipped_overlap"] >= 1 and summary["missed"] == 0
        stats = admin.get(f"/api/tasks/{busy['id']}/stats").json()["data"]
        assert stats["runs_missed_7d"] == 0
    finally:
        for task in (paused, busy, ticking):
            admin.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
        for run in admin.get(f"/api/tasks/{busy['id']}/runs").json()["data"]["items"]:
            admin.post(f"/api/task-runs/{run['id']}/cancel")
