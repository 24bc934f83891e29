"""What a run's end means for its task: the run before it, and its failure streak."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.statuses import TERMINAL_STATUSES, RunStatus, RunTrigger
from persistence.models import TaskRun

FAILED_STATUSES = (RunStatus.FAILED.value, RunStatus.TIMEOUT.value)


async def previous_end(
    session: AsyncSession, task_id: int, task_run_id: int, completed_at: datetime
) -> str | None:
    """The status of the task's run that finished last before this one, if any."""
    return await session.scalar(
        select(TaskRun.status)
        .where(
            TaskRun.task_id == task_id,
            TaskRun.id != task_run_id,
            TaskRun.status.in_([status.value for status in TERMINAL_STATUSES]),
            TaskRun.completed_at <= completed_at,
        )
        .order_by(TaskRun.completed_at.desc(), TaskRun.id.desc())
        .limit(1)
    )


async def failure_streak(
    session: AsyncSession, task_id: int, since: datetime | None, limit: int
) -> int:
    """How many of the task's newest finished scheduled runs (at most ``limit``, created
    after ``since``) ended ``Failed`` or ``Timeout`` in a row."""
    query = (
        select(TaskRun.status)
        .where(
            TaskRun.task_id == task_id,
            TaskRun.trigger == RunTrigger.SCHEDULE.value,
            TaskRun.status.in_([status.value for status in TERMINAL_STATUSES]),
        )
        .order_by(TaskRun.scheduled_at.desc(), TaskRun.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(TaskRun.created_at > since)
    streak = 0
    for status in await session.scalars(query):
        if status not in FAILED_STATUSES:
            break
        streak += 1
    return streak
