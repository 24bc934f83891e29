"""What the fire ledger reads: runs at fire times, open spans of schedule-started
runs, status changes; for one task or many in one statement each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.fire_ledger import OVERLAP_GRACE, FiredRun, OpenSpan
from domain.statuses import RunTrigger
from persistence.models import TaskRun, TaskStatusChange

_RUNS = TaskRun.metadata.tables[TaskRun.__tablename__]
_CHANGES = TaskStatusChange.metadata.tables[TaskStatusChange.__tablename__]
# Runs the schedule started: Temporal's overlap policy sees these, not manual runs.
_FROM_SCHEDULE = (RunTrigger.SCHEDULE.value, RunTrigger.BACKFILL.value)


async def runs_at(
    session: AsyncSession, task_ids: Sequence[int], after: datetime, until: datetime
) -> dict[int, dict[datetime, FiredRun]]:
    """Per task, its schedule-started runs by ``scheduled_at`` in ``(after, until]``."""
    found: dict[int, dict[datetime, FiredRun]] = defaultdict(dict)
    rows = await session.execute(
        select(_RUNS.c.task_id, _RUNS.c.scheduled_at, _RUNS.c.id, _RUNS.c.status).where(
            _RUNS.c.task_id.in_(list(task_ids)),
            _RUNS.c.scheduled_at > after,
            _RUNS.c.scheduled_at <= until,
            _RUNS.c.trigger.in_(_FROM_SCHEDULE),
        )
    )
    for task_id, scheduled_at, run_id, status in rows:
        found[task_id].setdefault(scheduled_at, FiredRun(run_id, status))
    return found


async def open_spans(
    session: AsyncSession, task_ids: Sequence[int], after: datetime, until: datetime
) -> dict[int, list[OpenSpan]]:
    """Per task, when its schedule-started runs that overlap ``(after, until]`` were open."""
    found: dict[int, list[OpenSpan]] = defaultdict(list)
    rows = await session.execute(
        select(_RUNS.c.task_id, _RUNS.c.created_at, _RUNS.c.completed_at).where(
            _RUNS.c.task_id.in_(list(task_ids)),
            _RUNS.c.trigger.in_(_FROM_SCHEDULE),
            _RUNS.c.created_at <= until,
            or_(_RUNS.c.completed_at.is_(None), _RUNS.c.completed_at >= after - OVERLAP_GRACE),
        )
    )
    for task_id, created_at, completed_at in rows:
        found[task_id].append(OpenSpan(created_at, completed_at))
    return found


async def status_changes(
    session: AsyncSession, task_ids: Sequence[int], until: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """Per task, its status changes up to ``until``, oldest first."""
    found: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    rows = await session.execute(
        select(_CHANGES.c.task_id, _CHANGES.c.changed_at, _CHANGES.c.status)
        .where(_CHANGES.c.task_id.in_(list(task_ids)), _CHANGES.c.changed_at <= until)
        .order_by(_CHANGES.c.task_id, _CHANGES.c.changed_at, _CHANGES.c.id)
    )
    for task_id, changed_at, status in rows:
        found[task_id].append((changed_at, status))
    return found
