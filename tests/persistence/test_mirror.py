"""Mirror writes on the real database: idempotent, one row per workflow, never backwards."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError

from activities.run_recorder import RunRecorder
from domain.statuses import RunStatus, RunTrigger
from persistence import backfills, runs, tasks
from persistence.models import TaskRun
from settings import Settings
from tests.credential_rows import with_sessions
from tests.persistence.conftest import Database, new_task
from workflows.payloads import BeginRun, FinishRun

T = TypeVar("T")

NEW_YEAR_2030 = datetime(2030, 1, 1, tzinfo=UTC)

# The workers write with autocommit sessions (each statement its own
# transaction on Postgres); the writes must hold with ordinary ones too.
SESSION_KINDS = pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "tx"])


async def _new_task(
    sessions: async_sessionmaker[AsyncSession], depends_on: list[int] | None = None
) -> int:
    return await new_task(sessions, prefix="mirror", depends_on=depends_on)


@SESSION_KINDS
def test_begin_run_is_idempotent_per_workflow_id(db: Database, autocommit: bool) -> None:
    recorder_settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[int], int]:
        task_id = await _new_task(sessions)
        recorder = RunRecorder(sessions, recorder_settings)
        start = BeginRun(
            task_id=task_id,
            workflow_id=f"task-{task_id}-2030-01-01T00:00:00Z-{uuid.uuid4().hex[:4]}",
            temporal_run_id="r1",
            scheduled_at=NEW_YEAR_2030,
        )
        # Retries of the same start, some of them concurrent.
        plans = await asyncio.gather(*(recorder.begin_run(start) for _ in range(5)))
        async with sessions() as session:
            _, total = await runs.list_runs(session, task_id, None, 0, 100)
        return [plan.task_run_id for plan in plans], total

    ids, total = with_sessions(db, work, autocommit=autocommit)
    assert total == 1
    assert len(set(ids)) == 1


def test_a_fire_inside_a_recorded_backfill_is_a_backfill_run(db: Database) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None]]:
        task_id = await _new_task(sessions)
        recorder = RunRecorder(sessions, settings)
        async with sessions() as session, session.begin():
            await backfills.record_backfill(
                session,
                task_id,
                datetime(2026, 3, 8, 0, 0, tzinfo=UTC),
                datetime(2026, 3, 8, 12, 0, tzinfo=UTC),
                "ops-key",
            )
        seen = []
        # Inside the range (both ends included), then a fire outside it.
        for fired in ("2026-03-08T00:00:00Z", "2026-03-08T12:00:00Z", "2026-03-09T00:00:00Z"):
            plan = await recorder.begin_run(
                BeginRun(
                    task_id=task_id,
                    workflow_id=f"task-{task_id}-{fired}-{uuid.uuid4().hex[:4]}",
                    temporal_run_id="r1",
                    scheduled_at=datetime.fromisoformat(fired),
                )
            )
            row = await _row(sessions, plan.task_run_id)
            seen.append((row.trigger, row.triggered_by))
        return seen

    assert with_sessions(db, work) == [
        ("backfill", "ops-key"),
        ("backfill", "ops-key"),
        ("schedule", None),
    ]


@SESSION_KINDS
def test_finish_is_recorded_once_and_never_moves_backwards(db: Database, autocommit: bool) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, object]:
        task_id = await _new_task(sessions)
        recorder = RunRecorder(sessions, settings)
        plan = await recorder.begin_run(
            BeginRun(
                task_id=task_id,
                workflow_id=f"wf-{uuid.uuid4().hex}",
                temporal_run_id="r1",
                scheduled_at=NEW_YEAR_2030,
            )
        )
        run_id = plan.task_run_id
        started = datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)
        async with sessions() as session, session.begin():
            await runs.mark_running(session, run_id, "w-1", 1, started)
        async with sessions() as session, session.begin():
            # A stale report of the first attempt arrives late: ignored.
            await runs.mark_running(session, run_id, "w-0", 0, started - timedelta(seconds=1))
        finish = FinishRun(
            task_run_id=run_id,
            status=RunStatus.COMPLETED,
            completed_at=NEW_YEAR_2030 + timedelta(seconds=3),
            result="ok",
        )
        await recorder.finish_run(finish)
        # A duplicate finish with another outcome, then late Running/Dispatched writes.
        await recorder.finish_run(
            FinishRun(
                task_run_id=run_id,
                status=RunStatus.FAILED,
                completed_at=NEW_YEAR_2030 + timedelta(seconds=9),
            )
        )
        async with sessions() as session, session.begin():
            await runs.mark_running(session, run_id, "w-9", 5, started)
            await runs.mark_dispatched(session, run_id)
        async with sessions() as session:
            run = await runs.get_run(session, run_id)
            assert run is not None
            return {
                "status": run.status,
                "worker_id": run.worker_id,
                "retry_count": run.retry_count,
                "result": run.result,
                "duration": run.execution_duration_ms,
                "completed_at": run.completed_at,
            }

    run = with_sessions(db, work, autocommit=autocommit)
    assert run["status"] == "Completed"
    assert run["worker_id"] == "w-1"
    assert run["retry_count"] == 1
    assert run["result"] == "ok"
    # Derived from the final attempt's start when the executor gave no duration.
    assert run["duration"] == 2000
    assert run["completed_at"] == datetime(2030, 1, 1, 0, 0, 3, tzinfo=UTC)


def test_output_with_nul_characters_is_recorded_on_every_backend(db: Database) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> TaskRun:
        recorder = RunRecorder(sessions, settings)
        plan = await recorder.begin_run(_fire(await _new_task(sessions)))
        await recorder.finish_run(
            FinishRun(
                task_run_id=plan.task_run_id,
                status=RunStatus.FAILED,
                completed_at=NEW_YEAR_2030,
                result="a\x00b",
                error_message="exit 1: \x00",
            )
        )
        return await _row(sessions, plan.task_run_id)

    run = with_sessions(db, work)
    assert run.status == "Failed"
    assert run.result == "a\ufffdb"
    assert run.error_message == "exit 1: \ufffd"


def _fire(task_id: int) -> BeginRun:
    """The start of a schedule fire's run (its workflow creates the row)."""
    return BeginRun(
        task_id=task_id,
        workflow_id=f"wf-{uuid.uuid4().hex}",
        temporal_run_id="r1",
        scheduled_at=NEW_YEAR_2030,
    )


def _attach(task_id: int, run_id: int, temporal_run_id: str = "r1") -> BeginRun:
    """The start of a triggered run, whose row the API wrote."""
    return BeginRun(
        task_id=task_id,
        workflow_id="unused",
        temporal_run_id=temporal_run_id,
        scheduled_at=NEW_YEAR_2030,
        task_run_id=run_id,
    )


async def _row(sessions: async_sessionmaker[AsyncSession], run_id: int) -> TaskRun:
    async with sessions() as session:
        run = await runs.get_run(session, run_id)
        assert run is not None
        return run


@SESSION_KINDS
def test_a_fire_without_dependencies_is_created_dispatched(db: Database, autocommit: bool) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        recorder = RunRecorder(sessions, settings)
        free = await _new_task(sessions)
        waiting = await _new_task(sessions, depends_on=[free])
        plans = {task_id: await recorder.begin_run(_fire(task_id)) for task_id in (free, waiting)}
        assert plans[free].dispatched and plans[free].dependencies == []
        assert not plans[waiting].dispatched and plans[waiting].dependencies == [free]
        dispatched = await _row(sessions, plans[free].task_run_id)
        assert dispatched.status == RunStatus.DISPATCHED
        assert dispatched.dispatched_at == dispatched.created_at
        assert dispatched.temporal_run_id == "r1"
        assert dispatched.scheduled_at == datetime(2030, 1, 1, tzinfo=UTC)
        pending = await _row(sessions, plans[waiting].task_run_id)
        assert pending.status == RunStatus.PENDING and pending.dispatched_at is None
        assert pending.definition["dependencies"] == [free]

    with_sessions(db, work, autocommit=autocommit)


@SESSION_KINDS
def test_a_triggered_run_is_attached_and_dispatched_once(db: Database, autocommit: bool) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        recorder = RunRecorder(sessions, settings)
        free = await _new_task(sessions)
        waiting = await _new_task(sessions, depends_on=[free])
        run_ids = {}
        for task_id in (free, waiting):
            # The row as the API's trigger writes it, before the workflow starts.
            async with sessions() as session, session.begin():
                found = await tasks.get_task_with_dependencies(session, task_id)
                assert found is not None
                run_ids[task_id] = await runs.create_run(
                    session,
                    *found,
                    workflow_id=f"wf-{uuid.uuid4().hex}",
                    trigger=RunTrigger.MANUAL,
                    scheduled_at=datetime.now(UTC),
                )
        first = await recorder.begin_run(_attach(free, run_ids[free]))
        assert first.dispatched and first.task_run_id == run_ids[free]
        once = await _row(sessions, run_ids[free])
        assert once.status == RunStatus.DISPATCHED and once.temporal_run_id == "r1"
        assert once.dispatched_at is not None
        # A retry, or a later workflow run after a reset: the first attachment stays.
        again = await recorder.begin_run(_attach(free, run_ids[free], "r2"))
        assert again.dispatched
        twice = await _row(sessions, run_ids[free])
        assert twice.temporal_run_id == "r1"
        assert twice.dispatched_at == once.dispatched_at
        assert twice.updated_at == once.updated_at

        held = await recorder.begin_run(_attach(waiting, run_ids[waiting]))
        assert not held.dispatched and held.dependencies == [free]
        pending = await _row(sessions, run_ids[waiting])
        assert pending.status == RunStatus.PENDING and pending.dispatched_at is None
        assert pending.temporal_run_id == "r1"

    with_sessions(db, work, autocommit=autocommit)


@SESSION_KINDS
def test_begin_run_of_a_deleted_task_or_run_is_not_found(db: Database, autocommit: bool) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
        recorder = RunRecorder(sessions, settings)
        gone = await _new_task(sessions)
        async with sessions() as session, session.begin():
            task = await tasks.get_task(session, gone)
            await session.delete(task)
        messages = []
        for start in (_fire(gone), _attach(gone, 2**40)):
            with pytest.raises(ApplicationError) as raised:
                await recorder.begin_run(start)
            assert raised.value.type == "TaskNotFound" and raised.value.non_retryable
            messages.append(raised.value.message)
        async with sessions() as session:
            _, total = await runs.list_runs(session, gone, None, 0, 10)
        assert total == 0
        return messages

    messages = with_sessions(db, work, autocommit=autocommit)
    assert messages[0].startswith("task ") and messages[1] == f"run {2**40} no longer exists"


def test_cycle_detection_follows_transitive_edges(db: Database) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[bool, bool, bool]:
        a = await _new_task(sessions)
        b = await _new_task(sessions)
        c = await _new_task(sessions)
        async with sessions() as session, session.begin():
            await tasks.set_dependencies(session, b, [a])  # b -> a
            await tasks.set_dependencies(session, c, [b])  # c -> b
        async with sessions() as session:
            return (
                await tasks.would_cycle(session, a, [c]),  # a -> c closes a -> c -> b -> a
                await tasks.would_cycle(session, a, [a]),
                await tasks.would_cycle(session, c, [a]),  # c -> a is a shortcut, no cycle
            )

    transitive, self_loop, shortcut = with_sessions(db, work)
    assert transitive is True
    assert self_loop is True
    assert shortcut is False
