"""What the fire ledger reads: runs at fire times, open spans of schedule-started
runs, status changes; for one task or many in one statement each. And the
ledger's entries of many tasks' fires at once (the periodic checks)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.fire_ledger import (
    OVERLAP_GRACE,
    FiredRun,
    LedgerEntry,
    LedgerPolicy,
    OpenSpan,
    classify,
)
from domain.fire_times import DstPolicy, fire_times
from domain.statuses import RunTrigger
from persistence.models import Task, TaskRun, TaskStatusChange
from settings import Settings

_RUNS = TaskRun.metadata.tables[TaskRun.__tablename__]
_CHANGES = TaskStatusChange.metadata.tables[TaskStatusChange.__tablename__]
# Runs the schedule started: Temporal's overlap policy sees these, not manual runs.
_FROM_SCHEDULE = (RunTrigger.SCHEDULE.value, RunTrigger.BACKFILL.value)


@dataclass(frozen=True, slots=True)
class LedgerDefaults:
    """What the ledger's rule weighs for every task alike (from the settings)."""

    catchup_seconds: int
    """The catch-up window of a task without its own."""
    grace_seconds: float
    """How long past its latest possible start a fire waits before it is ``missed``."""

    @classmethod
    def of(cls, settings: Settings) -> LedgerDefaults:
        return cls(settings.schedule_catchup_window_seconds, settings.fire_ledger_grace_seconds)


def ledger_policy(task: Task, defaults: LedgerDefaults) -> LedgerPolicy:
    """The parts of the task's schedule policy the ledger's rule weighs."""
    return LedgerPolicy(
        overlap_policy=task.overlap_policy,
        catchup_window=timedelta(seconds=task.catchup_window_seconds or defaults.catchup_seconds),
        jitter=timedelta(seconds=task.jitter_seconds),
        grace=timedelta(seconds=defaults.grace_seconds),
    )


def dst_policy_of(task: Task) -> DstPolicy:
    return DstPolicy(task.dst_policy)


def fires_between(task: Task, after: datetime, until: datetime) -> list[datetime]:
    """The task's fire times in ``(after, until]``, none before it was created."""
    after = max(after, task.created_at)
    if after >= until:
        return []
    return [
        fire.at
        for fire in fire_times(
            task.schedule, task.timezone, dst_policy_of(task), after=after, until=until
        )
    ]


async def runs_at(
    session: AsyncSession, task_ids: Sequence[int], after: datetime, until: datetime
) -> dict[int, dict[datetime, FiredRun]]:
    """Per task, its schedule-started runs by ``scheduled_at`` in ``(after, until]``."""
    found: dict[int, dict[datetime, FiredRun]] = defaultdict(dict)
    rows = await session.execute(
        select(
            _RUNS.c.task_id, _RUNS.c.scheduled_at, _RUNS.c.id, _RUNS.c.status, _RUNS.c.started_at
        ).where(
            _RUNS.c.task_id.in_(list(task_ids)),
            _RUNS.c.scheduled_at > after,
            _RUNS.c.scheduled_at <= until,
            _RUNS.c.trigger.in_(_FROM_SCHEDULE),
        )
    )
    for task_id, scheduled_at, run_id, status, started_at in rows:
        found[task_id].setdefault(scheduled_at, FiredRun(run_id, status, started_at))
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


async def entries_of(
    session: AsyncSession,
    due: Mapping[int, tuple[LedgerPolicy, Sequence[datetime]]],
    now: datetime,
) -> dict[int, list[LedgerEntry]]:
    """Per task, the ledger's entries at ``now`` of the fire times given with its
    policy (oldest first); one statement per kind of fact for all the tasks."""
    wanted = {task_id: fires for task_id, fires in due.items() if fires[1]}
    if not wanted:
        return {}
    first = min(fires[0] for _, fires in wanted.values()) - timedelta(seconds=1)
    last = max(fires[-1] for _, fires in wanted.values())
    ids = list(wanted)
    runs = await runs_at(session, ids, first, last)
    spans = await open_spans(session, ids, first, last)
    changes = await status_changes(session, ids, last)
    return {
        task_id: classify(
            fires,
            runs.get(task_id, {}),
            spans.get(task_id, []),
            changes.get(task_id, []),
            policy,
            now,
        )
        for task_id, (policy, fires) in wanted.items()
    }
