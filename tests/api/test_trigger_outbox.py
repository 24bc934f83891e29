"""The start outbox: a trigger accepted while Temporal is unreachable waits ``Pending``
with its entry, is not settled by the reconciler, and the relay starts it (once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

import devstack
from activities.outbox_relay import OutboxRelay
from activities.reconciler import Reconciler
from persistence.database import create_engine, create_sessionmaker
from persistence.models import OutboxEntry
from tests.helpers import Api
from tests.in_process import App, another_instance
from workflows.run_starts import RunStarter, RunToStart
from workflows.schedules import schedule_manager

pytestmark = pytest.mark.one_backend

T = TypeVar("T")


@pytest.fixture
def unreachable(app: App) -> Iterator[Api]:
    """An instance of the app whose Temporal address has nothing listening."""
    dead = f"127.0.0.1:{devstack.free_port()}"
    with another_instance(
        app, {"TEMPORAL_ADDRESS": dead, "SCHEDULER_OUTBOX_START_TIMEOUT_SECONDS": "0.5"}
    ) as instance:
        yield instance.api("admin")


def _with_temporal(
    app: App, use: Callable[[async_sessionmaker[AsyncSession], Client], Awaitable[T]]
) -> T:
    """Run ``use`` with sessions on the app's database and a client of its namespace."""

    async def main() -> T:
        engine = create_engine(app.database_url)
        try:
            client = await Client.connect(app.temporal_address, namespace=app.namespace)
            return await use(create_sessionmaker(engine), client)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _relay(app: App, sessions: async_sessionmaker[AsyncSession], client: Client) -> OutboxRelay:
    settings = app.settings
    return OutboxRelay(
        sessions,
        RunStarter(client, settings.orchestrator_queue),
        schedule_manager(client, settings),
        grace_seconds=0.0,
        start_timeout_seconds=5.0,
    )


async def _entries(sessions: async_sessionmaker[AsyncSession], task_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.task_id == task_id)
        )
    return int(count or 0)


def test_a_trigger_while_temporal_is_unreachable_waits_and_the_relay_starts_it(
    app: App, admin: Api, unreachable: Api
) -> None:
    task = admin.create_task()
    response = unreachable.post(f"/api/tasks/{task['id']}/trigger")
    assert response.status_code == 201, response.text
    run_id = response.json()["data"]["task_run_id"]
    run = admin.run(run_id)
    assert (run["status"], run["temporal_run_id"]) == ("Pending", None)
    workflow_id = f"task-{task['id']}-manual-{run_id}"
    assert run["workflow_id"] == workflow_id

    async def relay(sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        assert await _entries(sessions, task["id"]) == 1
        # A row whose start waits in the outbox is no orphan, however old.
        reconciler = Reconciler(
            sessions, client, schedule_manager(client, app.settings), settle_seconds=0.0
        )
        assert await reconciler.close_orphaned_runs() == 0

        relay = _relay(app, sessions, client)
        assert await relay.relay_once() == 1
        assert await _entries(sessions, task["id"]) == 0
        assert await relay.relay_once() == 0
        described = await client.get_workflow_handle(workflow_id).describe()
        assert described.search_attributes["TaskId"] == [task["id"]]
        # Starting it again (an API and a relay both did) starts nothing new.
        again = RunToStart(
            task_id=task["id"],
            task_name=task["name"],
            task_type="shell",
            task_run_id=run_id,
            workflow_id=workflow_id,
            trigger="manual",
        )
        assert await RunStarter(client, app.settings.orchestrator_queue).start_run(again) is False
        await client.get_workflow_handle(workflow_id).terminate("test over")

    _with_temporal(app, relay)
    assert admin.run(run_id)["status"] == "Pending"  # no orchestrator here: nothing settled it


def test_a_backlog_starts_in_the_order_it_was_accepted(
    app: App, admin: Api, unreachable: Api
) -> None:
    """Once entries wait for the relay, a trigger on an API that reaches Temporal queues
    behind them instead of overtaking them."""
    task = admin.create_task()
    first = unreachable.post(f"/api/tasks/{task['id']}/trigger").json()["data"]["task_run_id"]
    time.sleep(0.6)  # older than the reachable instance's start timeout: a backlog
    with another_instance(app, {"SCHEDULER_OUTBOX_START_TIMEOUT_SECONDS": "0.5"}) as reachable:
        second = reachable.api("admin").trigger(task["id"])

    async def relay(sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        assert await _entries(sessions, task["id"]) == 2
        assert await _relay(app, sessions, client).relay_once() == 2
        started = []
        for run_id in (first, second):
            handle = client.get_workflow_handle(f"task-{task['id']}-manual-{run_id}")
            started.append((await handle.describe()).start_time)
            await handle.terminate("test over")
        assert started == sorted(started)

    _with_temporal(app, relay)


def test_a_reachable_trigger_starts_at_once_and_leaves_no_entry(app: App, admin: Api) -> None:
    task = admin.create_task()
    run_id = admin.trigger(task["id"])

    async def check(sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        assert await _entries(sessions, task["id"]) == 0
        handle = client.get_workflow_handle(f"task-{task['id']}-manual-{run_id}")
        await handle.describe()
        await handle.terminate("test over")

    _with_temporal(app, check)


def test_an_unstarted_run_is_cancelled_in_the_database(
    app: App, admin: Api, unreachable: Api
) -> None:
    task = admin.create_task()
    run_id = unreachable.post(f"/api/tasks/{task['id']}/trigger").json()["data"]["task_run_id"]
    assert admin.post(f"/api/task-runs/{run_id}/cancel").status_code == 202
    run = admin.run(run_id)
    assert (run["status"], run["error_message"]) == ("Failed", "cancelled by admin")

    async def check(sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        assert await _entries(sessions, task["id"]) == 0

    _with_temporal(app, check)


def test_a_backfill_while_temporal_is_unreachable_is_relayed(
    app: App, admin: Api, unreachable: Api
) -> None:
    task = admin.create_task(schedule="0 * * * *", status="Inactive")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    body = {"start": (end - timedelta(hours=2)).isoformat(), "end": end.isoformat()}
    response = unreachable.post(f"/api/tasks/{task['id']}/backfill", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["data"]["fires"] == 3

    async def relay(sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        assert await _entries(sessions, task["id"]) == 1
        assert await _relay(app, sessions, client).relay_once() == 1
        assert await _entries(sessions, task["id"]) == 0

        async def started() -> int:
            count = await client.count_workflows(f"TaskId = {task['id']}")
            return count.count

        for _ in range(100):
            if await started() == 1:  # buffer_all: one at a time, the first is open
                break
            await asyncio.sleep(0.1)
        assert await started() == 1

    _with_temporal(app, relay)
