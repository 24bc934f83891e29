"""The reconciler repairs what out-of-band Temporal actions and crashes leave behind."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)

from domain.tasks import ScheduledTask
from settings import Settings
from tests.conftest import Stack
from tests.credential_rows import add_revocation, revocation_expiry
from tests.helpers import Api, eventually
from tests.temporal import describe_schedule
from workflows.schedules import schedule_manager

# Every reconcile pass reads the task rows on both backends whichever test runs;
# what the schedule repairs add is Temporal's side, so they run once.
TEMPORAL_SIDE = pytest.mark.one_backend


def temporal(stack: Stack, action: str, target: str) -> None:
    async def main() -> None:
        client = await Client.connect(stack.temporal_address)
        if action == "terminate":
            await client.get_workflow_handle(target).terminate(reason="operator in the Web UI")
        elif action == "delete-schedule":
            await client.get_schedule_handle(target).delete()
        elif action == "pause-schedule":
            await client.get_schedule_handle(target).pause(note="paused by hand")
        elif action == "create-orphan":
            await client.create_schedule(
                target,
                Schedule(
                    action=ScheduleActionStartWorkflow(
                        "TaskRunWorkflow", id="orphan", task_queue="nowhere"
                    ),
                    spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]),
                    state=ScheduleState(paused=True),
                ),
            )

    asyncio.run(main())


def test_run_terminated_in_temporal_is_reconciled(stack: Stack, admin: Api) -> None:
    task = admin.create_task(parameters={"command": "sleep 60"})
    run_id = admin.trigger(task["id"])
    run = eventually(lambda: (r := admin.run(run_id))["status"] == "Running" and r, timeout=30)
    temporal(stack, "terminate", run["workflow_id"])
    final = admin.wait_for_run(run_id, timeout=60)
    assert final["status"] == "Failed"
    assert final["error_message"] == "workflow terminated in Temporal"


@TEMPORAL_SIDE
def test_missing_schedule_is_recreated(stack: Stack, admin: Api) -> None:
    task = admin.create_task(schedule="30 4 * * *")
    temporal(stack, "delete-schedule", f"task-{task['id']}")
    assert describe_schedule(stack.temporal_address, task["id"]) is None
    described = eventually(
        lambda: describe_schedule(stack.temporal_address, task["id"]), timeout=60, interval=0.25
    )
    assert described.schedule.state.paused is False
    assert described.info.next_action_times[0].minute == 30


@TEMPORAL_SIDE
def test_paused_flag_follows_the_task(stack: Stack, admin: Api) -> None:
    task = admin.create_task()
    temporal(stack, "pause-schedule", f"task-{task['id']}")

    def unpaused() -> bool:
        described = describe_schedule(stack.temporal_address, task["id"])
        return described is not None and not described.schedule.state.paused

    eventually(unpaused, timeout=60, interval=0.25)


@TEMPORAL_SIDE
def test_schedule_without_task_is_deleted(stack: Stack) -> None:
    temporal(stack, "create-orphan", "task-987654")
    assert describe_schedule(stack.temporal_address, 987654) is not None
    eventually(
        lambda: describe_schedule(stack.temporal_address, 987654) is None,
        timeout=60,
        interval=0.25,
    )


@TEMPORAL_SIDE
def test_schedule_left_with_another_definition_is_rebuilt(stack: Stack, admin: Api) -> None:
    """What an API process dying between its schedule update and its commit leaves behind."""
    task = admin.create_task(schedule="30 4 * * *")
    uncommitted = ScheduledTask(
        id=task["id"],
        name=task["name"],
        task_type=task["task_type"],
        schedule="45 7 * * *",
        timezone=None,
        active=True,
    )

    async def update_schedule_only() -> None:
        client = await Client.connect(stack.temporal_address)
        await schedule_manager(client, Settings.from_env(stack.env)).upsert(uncommitted)

    asyncio.run(update_schedule_only())
    described = describe_schedule(stack.temporal_address, task["id"])
    assert described is not None
    assert described.info.next_action_times[0].minute == 45

    def rebuilt() -> bool:
        described = describe_schedule(stack.temporal_address, task["id"])
        assert described is not None
        return described.info.next_action_times[0].minute == 30

    eventually(rebuilt, timeout=60, interval=0.25)
    assert admin.get(f"/api/tasks/{task['id']}").json()["data"]["schedule"] == "30 4 * * *"


def test_expired_revocations_are_purged_by_the_reconciler(stack: Stack) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    expired, live = f"test-expired-{uuid.uuid4().hex}", f"test-live-{uuid.uuid4().hex}"
    # Expiring a few seconds from now: already expired, a sweep could purge it
    # before the check that it was written.
    add_revocation(stack, expired, now + timedelta(seconds=5))
    add_revocation(stack, live, now + timedelta(hours=1))
    assert revocation_expiry(stack, expired) is not None
    # The stack reconciles every 2 s.
    eventually(lambda: revocation_expiry(stack, expired) is None, timeout=30, interval=0.5)
    assert revocation_expiry(stack, live) == now + timedelta(hours=1)
