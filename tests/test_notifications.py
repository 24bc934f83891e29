"""Notifications on a running stack: a failing task's signed webhook and Slack message,
recovery, a receiver that hangs, and the auto-pause of a task that keeps failing."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime
from typing import Any

import pytest
from temporalio.client import ScheduleOverlapPolicy

from tests.conftest import Stack
from tests.helpers import Api, eventually, unique
from tests.notification_receiver import running_receiver, verify_signature
from tests.prometheus import samples, value
from workflows.schedules import schedule_id

SECRET = "stack-secret-" + uuid.uuid4().hex


def channel(admin: Api, kind: str, config: dict[str, Any]) -> int:
    response = admin.post(
        "/api/notification-channels", json={"name": unique(kind), "type": kind, "config": config}
    )
    assert response.status_code == 201, response.text
    channel_id: int = response.json()["data"]["id"]
    return channel_id


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def delivered(admin: Api, run_id: int, count: int) -> list[dict[str, Any]]:
    """The run's deliveries once ``count`` of them are delivered."""

    def done() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = admin.get(f"/api/task-runs/{run_id}/notifications").json()[
            "data"
        ]
        return rows if sum(row["delivered_at"] is not None for row in rows) >= count else None

    return eventually(done, timeout=30, interval=0.2)


def notification_counts(api: Api) -> dict[tuple[str, str], float]:
    """``scheduler_notifications_total`` of webhook failures by outcome, and Slack's."""
    parsed = samples(api.get("/metrics").text)
    return {
        (kind, outcome): value(
            parsed,
            "scheduler_notifications_total",
            channel_type=kind,
            event="failure",
            outcome=outcome,
        )
        for kind in ("webhook", "slack")
        for outcome in ("delivered", "failed_attempt", "gave_up")
    }


def test_a_failing_task_sends_a_signed_failure_event_and_a_slack_message(
    stack: Stack, admin: Api
) -> None:
    before = notification_counts(admin)
    with running_receiver() as receiver, running_receiver() as slack_receiver:
        receiver.answers = [500, 500]  # the webhook's first two attempts
        hook = channel(admin, "webhook", {"url": receiver.url("/hook"), "secret": SECRET})
        slack = channel(admin, "slack", {"webhook_url": slack_receiver.url("/services/T1/B2/xyz")})
        task = admin.create_task(
            parameters={"command": "echo working; echo disk full >&2; exit 3"},
            notifications=[
                {"channel_id": hook, "on": ["failure"]},
                {"channel_id": slack, "on": ["failure", "success"]},
            ],
        )
        run_id = admin.trigger(task["id"])
        run = admin.wait_for_run(run_id)
        assert run["status"] == "Failed"
        rows = delivered(admin, run_id, 2)
        requests = receiver.snapshot("/hook")
        slack_requests = slack_receiver.snapshot("/services/T1/B2/xyz")

    assert [(r.status, r.body) for r in requests] == [
        (500, requests[0].body),
        (500, requests[0].body),
        (200, requests[0].body),
    ]
    body = requests[0].json
    for request in requests:
        assert verify_signature(request.headers["X-Scheduler-Signature"], request.body, SECRET)
    assert body["event"] == "failure" and body["event_id"] == f"run-{run_id}-failure"
    assert at(body["occurred_at"]) == at(run["completed_at"])
    assert body["task"] == {
        "id": task["id"],
        "name": task["name"],
        "task_type": "shell",
        "schedule": task["schedule"],
    }
    assert body["run"]["id"] == run_id and body["run"]["status"] == "Failed"
    assert body["run"]["trigger"] == "manual"
    assert "disk full" in body["run"]["error_message"]
    assert body["run"]["result_tail"] == run["result"]
    assert body["links"]["run"].endswith(f"/api/task-runs/{run_id}")
    assert body["links"]["temporal_ui"] == run["temporal_ui_url"]

    [message] = [r.json for r in slack_requests]
    assert "failure" in message["text"] and task["name"] in message["text"]
    assert message["blocks"][0]["type"] == "section"
    assert any("disk full" in str(block) for block in message["blocks"])

    by_channel = {row["channel_id"]: row for row in rows}
    assert by_channel[hook]["attempts"] == 3 and by_channel[hook]["last_status"] == 200
    assert by_channel[slack]["attempts"] == 1 and by_channel[slack]["event"] == "failure"

    expected = {
        ("webhook", "delivered"): 1,
        ("webhook", "failed_attempt"): 2,
        ("webhook", "gave_up"): 0,
        ("slack", "delivered"): 1,
        ("slack", "failed_attempt"): 0,
        ("slack", "gave_up"): 0,
    }

    def counted() -> dict[tuple[str, str], float] | None:
        # The snapshot refreshes every second; one may predate the last delivery.
        now = notification_counts(admin)
        delta = {key: now[key] - before[key] for key in now}
        return delta if delta == expected else None

    eventually(counted, timeout=15)


@pytest.mark.one_backend
def test_a_hanging_receiver_does_not_hold_up_the_run(stack: Stack, admin: Api) -> None:
    with running_receiver() as receiver:
        receiver.hang = threading.Event()
        hook = channel(admin, "webhook", {"url": receiver.url()})
        task = admin.create_task(
            parameters={"command": "true"}, notifications=[{"channel_id": hook, "on": ["success"]}]
        )
        dependent = admin.create_task(parameters={"command": "true"}, dependencies=[task["id"]])
        waiting = admin.trigger(dependent["id"])
        run_id = admin.trigger(task["id"])
        run = admin.wait_for_run(run_id)
        # The receiver holds the request; the run, its dependent and its workflow are done.
        eventually(lambda: receiver.snapshot() or None, timeout=30)
        assert admin.wait_for_run(waiting, timeout=30)["status"] == "Completed"
        assert run["status"] == "Completed"
        assert (at(run["completed_at"]) - at(run["started_at"])).total_seconds() < 5
        assert [r.status for r in receiver.snapshot()] == [0]
        receiver.hang.set()
        assert delivered(admin, run_id, 1)[0]["last_status"] == 200


@pytest.mark.one_backend
def test_the_first_success_after_a_failure_is_a_recovery(
    stack: Stack, admin: Api, task_tmp: Any
) -> None:
    flag = task_tmp / "fixed"
    with running_receiver() as receiver:
        hook = channel(admin, "webhook", {"url": receiver.url()})
        task = admin.create_task(
            parameters={"command": f"test -f {flag}"},
            notifications=[{"channel_id": hook, "on": ["recovery"]}],
        )
        failed = admin.trigger(task["id"])
        assert admin.wait_for_run(failed)["status"] == "Failed"
        flag.write_text("")
        flag.chmod(0o666)
        recovered = admin.trigger(task["id"])
        assert admin.wait_for_run(recovered)["status"] == "Completed"
        delivered(admin, recovered, 1)
        again = admin.trigger(task["id"])
        assert admin.wait_for_run(again)["status"] == "Completed"
        events = [r.json["event_id"] for r in receiver.snapshot()]
    assert events == [f"run-{recovered}-recovery"]
    assert admin.get(f"/api/task-runs/{failed}/notifications").json()["data"] == []


@pytest.mark.one_backend
def test_three_failed_scheduled_runs_pause_the_task_and_its_schedule(
    stack: Stack, admin: Api
) -> None:
    with running_receiver() as receiver:
        hook = channel(admin, "webhook", {"url": receiver.url()})
        task = admin.create_task(
            parameters={"command": "exit 1"},
            pause_after_failures=3,
            notifications=[{"channel_id": hook, "on": ["auto_paused"]}],
        )

        async def fire(count: int) -> None:
            client = await stack.temporal_client()
            handle = client.get_schedule_handle(schedule_id(task["id"]))
            for _ in range(count):
                await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
                await asyncio.sleep(1.1)  # one fire per second: workflow ids carry the second

        def runs() -> list[dict[str, Any]]:
            response = admin.get(f"/api/tasks/{task['id']}/runs", params={"page_size": 100})
            items: list[dict[str, Any]] = response.json()["data"]["items"]
            return items

        asyncio.run(fire(3))
        eventually(
            lambda: (len(runs()) == 3 and all(r["status"] == "Failed" for r in runs())) or None,
            timeout=60,
        )
        paused = eventually(
            lambda: (
                detail
                if (detail := admin.get(f"/api/tasks/{task['id']}").json()["data"])["status"]
                == "Inactive"
                else None
            ),
            timeout=30,
        )
        assert all(run["trigger"] == "schedule" for run in runs())
        last = max(run["id"] for run in runs())
        assert paused["paused_reason"] == (
            f"auto-paused after 3 consecutive failed scheduled runs (last: run {last})"
        )
        change = paused["status_history"][0]
        assert (change["status"], change["changed_by"], change["via"]) == (
            "Inactive",
            "scheduler",
            "auto_pause",
        )

        async def schedule_state() -> tuple[bool, str]:
            client = await stack.temporal_client()
            described = await client.get_schedule_handle(schedule_id(task["id"])).describe()
            return described.schedule.state.paused, described.schedule.state.note or ""

        is_paused, note = asyncio.run(schedule_state())
        assert is_paused and note.startswith(f"paused: {paused['paused_reason']}")
        [event] = [r.json for r in eventually(lambda: receiver.snapshot() or None, timeout=30)]
        assert event["event"] == "auto_paused" and event["event_id"] == f"run-{last}-auto_paused"

        resumed = admin.patch(f"/api/tasks/{task['id']}", json={"status": "Active"})
        assert resumed.json()["data"]["paused_reason"] is None


@pytest.mark.one_backend
def test_the_test_endpoint_answers_how_its_one_attempt_went(stack: Stack, admin: Api) -> None:
    with running_receiver() as receiver:
        hook = channel(admin, "webhook", {"url": receiver.url(), "secret": SECRET})
        sent = admin.post(f"/api/notification-channels/{hook}/test")
        assert sent.status_code == 200, sent.text
        receiver.otherwise = 500
        refused = admin.post(f"/api/notification-channels/{hook}/test")
        requests = receiver.snapshot()
    outcome = sent.json()["data"]
    assert outcome == {
        "event_id": outcome["event_id"],
        "delivered": True,
        "attempts": 1,
        "status": 200,
        "error": None,
    }
    assert refused.json()["data"] == {
        "event_id": refused.json()["data"]["event_id"],
        "delivered": False,
        "attempts": 1,
        "status": 500,
        "error": "HTTP 500 Internal Server Error",
    }
    assert len(requests) == 2  # one attempt each: a test is not retried
    body = requests[0].json
    assert (body["event"], body["event_id"]) == ("test", outcome["event_id"])
    assert body["task"] is None and body["run"] is None
    assert verify_signature(requests[0].headers["X-Scheduler-Signature"], requests[0].body, SECRET)
