"""When a run's dependencies are met (``persistence.runs.dependency_state``) and which
waiting runs a completion wakes, on each backend: the SQL under the dependency
tests of ``tests/test_dependencies.py``, which run end to end once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.statuses import RunStatus
from persistence import runs, tasks
from persistence.models import Task, TaskRun
from tests.credential_rows import with_sessions
from tests.persistence.conftest import Database, new_task

T0 = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _fire(sessions: async_sessionmaker[AsyncSession], task_id: int, at: datetime) -> int:
    async with sessions() as session, session.begin():
        start = await runs.begin_scheduled_run(
            session, task_id, f"task-{task_id}-{uuid.uuid4().hex}", uuid.uuid4().hex, at
        )
        assert start is not None
        return start.id


async def _end(
    sessions: async_sessionmaker[AsyncSession], run_id: int, status: RunStatus, at: datetime
) -> None:
    async with sessions() as session, session.begin():
        assert await runs.finish_run(session, run_id, runs.RunEnd(status, completed_at=at))


async def _state(sessions: async_sessionmaker[AsyncSession], run_id: int) -> runs.DependencyState:
    async with sessions() as session:
        return await runs.dependency_state(session, run_id)


def test_a_dependency_is_met_by_a_completion_after_the_previous_run(db: Database) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        upstream = await new_task(sessions, prefix="upstream")
        doomed = await new_task(sessions, prefix="doomed")
        waiter = await new_task(sessions, prefix="waiter", depends_on=[upstream, doomed])
        first = await _fire(sessions, waiter, T0)
        assert (await _row(sessions, first)).status == RunStatus.PENDING

        # A dependency deleted after the run was made (its edge goes first, as the
        # API does it) is named as deleted, not unmet: the run keeps its definition.
        async with sessions() as session, session.begin():
            await tasks.set_dependencies(session, waiter, [upstream])
            await session.execute(delete(Task).where(Task.id == doomed))
        state = await _state(sessions, first)
        assert state.deleted == [doomed]
        assert [dep for dep, _name in state.unmet] == [upstream]

        # A failed run does not satisfy; a completed one does (the waiter's first run).
        failed = await _fire(sessions, upstream, T0 - 2 * HOUR)
        await _end(sessions, failed, RunStatus.FAILED, T0 - HOUR)
        assert [dep for dep, _name in (await _state(sessions, first)).unmet] == [upstream]
        done = await _fire(sessions, upstream, T0 - HOUR)
        await _end(sessions, done, RunStatus.COMPLETED, T0 - HOUR / 2)
        assert (await _state(sessions, first)).unmet == []

        # The next run needs a completion after the previous run's scheduled_at.
        second = await _fire(sessions, waiter, T0 + HOUR)
        assert [dep for dep, _name in (await _state(sessions, second)).unmet] == [upstream]
        later = await _fire(sessions, upstream, T0 + HOUR / 2)
        await _end(sessions, later, RunStatus.COMPLETED, T0 + HOUR / 4)
        assert (await _state(sessions, second)).unmet == []

        # A completion of the upstream task wakes the waiter's Pending runs, and only those.
        pending = {(await _row(sessions, run)).workflow_id for run in (first, second)}
        assert await _waiting(sessions, upstream) == pending
        await _end(sessions, first, RunStatus.FAILED, T0 + 2 * HOUR)
        assert await _waiting(sessions, upstream) == {(await _row(sessions, second)).workflow_id}
        assert await _waiting(sessions, waiter) == set()

    with_sessions(db, work)


async def _row(sessions: async_sessionmaker[AsyncSession], run_id: int) -> TaskRun:
    async with sessions() as session:
        run = await runs.get_run(session, run_id)
        assert run is not None
        return run


async def _waiting(sessions: async_sessionmaker[AsyncSession], task_id: int) -> set[str]:
    async with sessions() as session:
        return set(await runs.waiting_dependent_workflow_ids(session, task_id))
