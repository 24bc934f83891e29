"""A fire that cancels or terminates the open run (overlap policy) names itself in that run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.run_recorder import RunRecorder
from domain.statuses import RunStatus
from persistence import runs
from persistence.models import TaskRun
from settings import Settings
from tests.credential_rows import with_sessions
from tests.persistence.conftest import Database, new_task
from workflows.payloads import BeginRun

FIRST, SECOND = "2030-01-01T00:00:00Z", "2030-01-01T00:01:00Z"


async def _task(sessions: async_sessionmaker[AsyncSession], overlap_policy: str) -> int:
    return await new_task(
        sessions,
        prefix="replaced",
        schedule="* * * * *",
        status="Active",
        overlap_policy=overlap_policy,
    )


async def _begin(recorder: RunRecorder, task_id: int, fired: str) -> int:
    plan = await recorder.begin_run(
        BeginRun(
            task_id=task_id,
            workflow_id=f"task-{task_id}-{fired}",
            temporal_run_id=uuid.uuid4().hex,
            scheduled_at=datetime.fromisoformat(fired),
        )
    )
    return plan.task_run_id


async def _row(sessions: async_sessionmaker[AsyncSession], run_id: int) -> TaskRun:
    async with sessions() as session:
        run = await runs.get_run(session, run_id)
        assert run is not None
        return run


@pytest.mark.parametrize(
    ("policy", "first_ends", "expected"),
    [
        ("terminate_other", None, "terminated by overlap policy terminate_other"),
        ("cancel_other", "cancelled", "cancelled by overlap policy cancel_other"),
        ("skip", None, None),
        ("allow_all", "cancelled", "cancelled"),
    ],
)
def test_the_replaced_run_names_its_replacement(
    db: Database, policy: str, first_ends: str | None, expected: str | None
) -> None:
    settings = Settings.from_env(db.env)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[TaskRun, int]:
        recorder = RunRecorder(sessions, settings)
        task_id = await _task(sessions, policy)
        first = await _begin(recorder, task_id, FIRST)
        if first_ends is not None:
            # A cancelled run records its own bare reason before the next fire starts.
            async with sessions() as session, session.begin():
                end = runs.RunEnd(
                    status=RunStatus.FAILED,
                    completed_at=datetime.now(UTC),
                    error_message=first_ends,
                )
                await runs.finish_run(session, first, end)
        second = await _begin(recorder, task_id, SECOND)
        return await _row(sessions, first), second

    first, second = with_sessions(db, work)
    if expected is None:
        assert first.status == RunStatus.DISPATCHED
        assert first.error_message is None
        return
    assert first.status == RunStatus.FAILED
    assert first.completed_at is not None
    if expected == "cancelled":
        assert first.error_message == "cancelled"  # not a replacing policy: left alone
        return
    assert first.error_message == (f"{expected}: replaced by run {second} (the fire of {SECOND})")
