"""Per-task schedule policy, next_run_at, the schedule previews and backfill's rules.

The app runs in this process against the session dev server; what needs
workers (runs actually happening) is in tests/test_schedule_runs.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, ScheduleDescription, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from tests.helpers import Api, assert_error, unique
from tests.in_process import App

DEFAULTS = {
    "overlap_policy": "skip",
    "catchup_window_seconds": 60,
    "jitter_seconds": 0,
    "dst_policy": "cron",
}
POLICY = {
    "overlap_policy": "buffer_all",
    "catchup_window_seconds": 10,
    "jitter_seconds": 30,
    "dst_policy": "strict",
}


def describe(app: App, schedule_id: str) -> ScheduleDescription | None:
    async def run() -> ScheduleDescription | None:
        client = await Client.connect(app.temporal_address, namespace=app.namespace)
        try:
            return await client.get_schedule_handle(schedule_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return asyncio.run(run())


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error of a documented error envelope with this status and code."""
    error: dict[str, Any] = assert_error(response, status, code)["error"]
    return error


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": unique("policy"),
        "task_type": "shell",
        "schedule": "*/5 * * * *",
        "parameters": {"command": "true"},
    }
    base.update(fields)
    return base


def policy_of(task: dict[str, Any]) -> dict[str, Any]:
    return {field: task[field] for field in DEFAULTS}


def test_every_task_object_has_the_policy_and_put_resets_it(app: App, admin: Api) -> None:
    created = admin.create_task(**body(**POLICY))
    task_id = created["id"]
    assert policy_of(created) == POLICY
    listed = admin.get("/api/tasks", params={"name": created["name"]}).json()["data"]["items"]
    assert [policy_of(task) for task in listed] == [POLICY]
    detail = admin.get(f"/api/tasks/{task_id}").json()["data"]
    assert policy_of(detail) == POLICY
    assert detail["next_run_at"] == created["next_run_at"]

    patched = admin.patch(f"/api/tasks/{task_id}", json={"jitter_seconds": 5})
    assert patched.status_code == 200, patched.text
    assert policy_of(patched.json()["data"]) == {**POLICY, "jitter_seconds": 5}

    replaced = admin.put(f"/api/tasks/{task_id}", json=body(name=created["name"]))
    assert replaced.status_code == 200, replaced.text
    assert policy_of(replaced.json()["data"]) == DEFAULTS


def test_the_policy_reaches_temporal(app: App, admin: Api) -> None:
    task = admin.create_task(**body(**POLICY))
    described = describe(app, f"task-{task['id']}")
    assert described is not None
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ALL
    assert described.schedule.policy.catchup_window == timedelta(seconds=10)
    assert described.schedule.spec.jitter == timedelta(seconds=30)

    admin.patch(f"/api/tasks/{task['id']}", json={"overlap_policy": "terminate_other"})
    described = describe(app, f"task-{task['id']}")
    assert described is not None
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.TERMINATE_OTHER


def test_next_run_at_is_temporals_next_action_time(app: App, admin: Api) -> None:
    task = admin.create_task(**body(schedule="17 3 * * 1-5", timezone="Europe/Berlin"))
    described = describe(app, f"task-{task['id']}")
    assert described is not None
    expected = described.info.next_action_times[0].astimezone(UTC)
    assert task["next_run_at"] == expected.isoformat().replace("+00:00", "Z")

    paused = admin.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
    assert paused.json()["data"]["next_run_at"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("catchup_window_seconds", 9),
        ("catchup_window_seconds", 604801),
        ("jitter_seconds", -1),
        ("jitter_seconds", 3601),
        ("overlap_policy", "queue"),
        ("dst_policy", "vixie"),
    ],
)
def test_out_of_range_policy_is_refused(admin: Api, field: str, value: Any) -> None:
    response = admin.post("/api/tasks", json=body(**{field: value}))
    error = refused(response, 422, "VALIDATION_ERROR")
    assert field in error["message"] or error["details"].get("field") == field


def test_temporals_catchup_floor_is_named(admin: Api) -> None:
    response = admin.post("/api/tasks", json=body(catchup_window_seconds=5))
    error = refused(response, 422, "VALIDATION_ERROR")
    assert error["details"]["field"] == "catchup_window_seconds"
    assert "Temporal's minimum" in error["message"]
    assert admin.create_task(**body(catchup_window_seconds=10))["catchup_window_seconds"] == 10


def test_a_dst_affected_cron_task_has_a_companion_schedule(app: App, admin: Api) -> None:
    task = admin.create_task(**body(schedule="30 1 * * *", timezone="America/New_York"))
    task_id = task["id"]
    companion = describe(app, f"task-{task_id}-dst")
    assert companion is not None
    assert companion.schedule.spec.time_zone_name == "UTC"
    assert companion.schedule.state.paused is False

    admin.patch(f"/api/tasks/{task_id}", json={"status": "Inactive"})
    paused = describe(app, f"task-{task_id}-dst")
    assert paused is not None and paused.schedule.state.paused is True

    admin.patch(f"/api/tasks/{task_id}", json={"dst_policy": "strict"})
    assert describe(app, f"task-{task_id}-dst") is None
    admin.patch(f"/api/tasks/{task_id}", json={"dst_policy": "cron"})
    assert describe(app, f"task-{task_id}-dst") is not None

    assert admin.delete(f"/api/tasks/{task_id}").status_code == 200
    assert describe(app, f"task-{task_id}-dst") is None
    assert describe(app, f"task-{task_id}") is None


def test_task_schedule_lists_the_next_fires(admin: Api) -> None:
    task = admin.create_task(**body(schedule="0 9 * * *", timezone="Europe/Paris"))
    response = admin.get(f"/api/tasks/{task['id']}/schedule", params={"count": 3})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert {key: data[key] for key in ("schedule", "timezone", "dst_policy", "paused")} == {
        "schedule": "0 9 * * *",
        "timezone": "Europe/Paris",
        "dst_policy": "cron",
        "paused": False,
    }
    assert len(data["next_runs"]) == 3
    assert data["next_runs"][0]["at"] == task["next_run_at"]
    for fire in data["next_runs"]:
        local = datetime.fromisoformat(fire["local"])
        assert (local.hour, local.minute) == (9, 0)
        assert local == datetime.fromisoformat(fire["at"])
    assert len(admin.get(f"/api/tasks/{task['id']}/schedule").json()["data"]["next_runs"]) == 10
    for count in (0, 101):
        bad = admin.get(f"/api/tasks/{task['id']}/schedule", params={"count": count})
        refused(bad, 422, "VALIDATION_ERROR")
    refused(admin.get("/api/tasks/2000000000/schedule"), 404, "TASK_NOT_FOUND")


def test_preview_shows_the_dst_shift(admin: Api) -> None:
    response = admin.post(
        "/api/schedules/preview",
        json={
            "schedule": "30 2 * * *",
            "timezone": "America/New_York",
            "count": 3,
            "after": "2027-03-13T00:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    runs = response.json()["data"]["next_runs"]
    assert [run["at"] for run in runs] == [
        "2027-03-13T07:30:00Z",
        "2027-03-14T07:00:00Z",
        "2027-03-15T06:30:00Z",
    ]
    assert runs[1]["local"] == "2027-03-14T03:00:00-04:00"
    assert "does not exist" in runs[1]["note"]
    assert runs[0]["note"] is None

    strict = admin.post(
        "/api/schedules/preview",
        json={
            "schedule": "30 2 * * *",
            "timezone": "America/New_York",
            "dst_policy": "strict",
            "count": 2,
            "after": "2027-03-13T00:00:00Z",
        },
    ).json()["data"]
    assert [run["at"] for run in strict["next_runs"]] == [
        "2027-03-13T07:30:00Z",
        "2027-03-15T06:30:00Z",
    ]


@pytest.mark.parametrize(
    ("preview", "status", "code", "field"),
    [
        ({"schedule": "61 * * * *"}, 422, "INVALID_SCHEDULE", "schedule"),
        (
            {"schedule": "0 0 * * *", "timezone": "Mars/Olympus"},
            422,
            "VALIDATION_ERROR",
            "timezone",
        ),
        ({"schedule": "0 0 * * *", "count": 0}, 422, "VALIDATION_ERROR", "count"),
        ({"schedule": "0 0 * * *", "dst_policy": "x"}, 422, "VALIDATION_ERROR", "dst_policy"),
        (
            {"schedule": "0 0 * * *", "after": "2027-01-01T00:00:00"},
            422,
            "VALIDATION_ERROR",
            "after",
        ),
        ({"timezone": "UTC"}, 422, "VALIDATION_ERROR", "schedule"),
    ],
)
def test_preview_refuses_what_task_create_refuses(
    admin: Api, preview: dict[str, Any], status: int, code: str, field: str
) -> None:
    error = refused(admin.post("/api/schedules/preview", json=preview), status, code)
    assert field in error["message"] or error["details"].get("field") == field


def test_preview_needs_task_read(anonymous: Api) -> None:
    response = anonymous.post("/api/schedules/preview", json={"schedule": "0 0 * * *"})
    refused(response, 401, "AUTHENTICATION_REQUIRED")


def test_backfill_refuses_bad_ranges(admin: Api, viewer: Api) -> None:
    task = admin.create_task(**body(schedule="* * * * *"))
    path = f"/api/tasks/{task['id']}/backfill"
    now = datetime.now(UTC).replace(microsecond=0)

    def at(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    future = admin.post(
        path, json={"start": at(now - timedelta(hours=1)), "end": at(now + timedelta(hours=1))}
    )
    assert refused(future, 422, "VALIDATION_ERROR")["details"]["field"] == "end"
    backwards = admin.post(
        path, json={"start": at(now - timedelta(hours=1)), "end": at(now - timedelta(hours=2))}
    )
    assert refused(backwards, 422, "VALIDATION_ERROR")["details"]["field"] == "end"
    too_many = admin.post(path, json={"start": at(now - timedelta(days=1)), "end": at(now)})
    error = refused(too_many, 422, "VALIDATION_ERROR")
    assert error["details"]["max_fires"] == 1000
    naive = admin.post(path, json={"start": "2026-01-01T00:00:00", "end": at(now)})
    assert refused(naive, 422, "VALIDATION_ERROR")["details"]["field"] == "start"
    unknown = admin.post(
        "/api/tasks/2000000000/backfill",
        json={"start": at(now - timedelta(hours=1)), "end": at(now)},
    )
    refused(unknown, 404, "TASK_NOT_FOUND")
    forbidden = viewer.post(path, json={"start": at(now - timedelta(hours=1)), "end": at(now)})
    refused(forbidden, 403, "INSUFFICIENT_PERMISSIONS")


def test_backfill_answers_the_number_of_fires(admin: Api) -> None:
    # Paused, so that only the backfill starts anything (no worker runs it here).
    task = admin.create_task(**body(schedule="0 * * * *", status="Inactive"))
    response = admin.post(
        f"/api/tasks/{task['id']}/backfill",
        json={"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T03:00:00Z"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"] == {
        "fires": 4,
        "start": "2026-11-01T00:00:00Z",
        "end": "2026-11-01T03:00:00Z",
    }
