"""What a page of the console's task list shows of each task's runs, for all its tasks at once.

Two statements per page, whatever its size: the newest runs of every task on
the page (one index range scan per task, joined with ``UNION ALL``), and their
success over the last 7 days (one grouped aggregate). Never one per task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.statuses import RunStatus
from persistence.models import TaskRun
from persistence.run_stats import FAILED_STATUSES

_RUNS = TaskRun.__table__


@dataclass(frozen=True, slots=True)
class RunBrief:
    """A run as a row of the task list shows it."""

    id: int
    task_id: int
    status: str
    created_at: datetime
    completed_at: datetime | None
    execution_duration_ms: int | None


@dataclass(frozen=True, slots=True)
class Tally:
    """Runs of a task finished in a window: how many succeeded, how many in all."""

    succeeded: int
    finished: int

    @property
    def rate(self) -> float | None:
        """Percent that succeeded; None when nothing finished."""
        return round(self.succeeded * 100.0 / self.finished, 1) if self.finished else None


_BRIEF = (
    _RUNS.c.id,
    _RUNS.c.task_id,
    _RUNS.c.status,
    _RUNS.c.created_at,
    _RUNS.c.completed_at,
    _RUNS.c.execution_duration_ms,
)


async def newest_runs(
    session: AsyncSession, task_ids: Sequence[int], per_task: int
) -> dict[int, list[RunBrief]]:
    """Each task's newest ``per_task`` runs, newest first (tasks without runs map to ``[]``)."""
    found: dict[int, list[RunBrief]] = defaultdict(list)
    if task_ids:
        # Each member reads one task's runs down ix_task_runs_task_id_id and stops
        # at ``per_task``; SQLite needs them wrapped to take ORDER BY and LIMIT.
        members = [
            select(
                *select(*_BRIEF)
                .where(_RUNS.c.task_id == literal(task_id))
                .order_by(_RUNS.c.id.desc())
                .limit(per_task)
                .subquery()
                .c
            )
            for task_id in task_ids
        ]
        statement = members[0] if len(members) == 1 else union_all(*members)
        for row in await session.execute(statement):
            found[row.task_id].append(RunBrief(*row))
    for runs in found.values():
        runs.sort(key=lambda run: run.id, reverse=True)
    return {task_id: found.get(task_id, []) for task_id in task_ids}


async def tallies_since(
    session: AsyncSession, task_ids: Sequence[int], since: datetime
) -> dict[int, Tally]:
    """Each task's runs finished at or after ``since``: succeeded and finished counts."""
    if not task_ids:
        return {}
    succeeded = func.count(case((_RUNS.c.status == RunStatus.COMPLETED.value, 1)))
    failed = func.count(case((_RUNS.c.status.in_([s.value for s in FAILED_STATUSES]), 1)))
    rows = await session.execute(
        select(_RUNS.c.task_id, succeeded, failed)
        .where(_RUNS.c.task_id.in_(task_ids), _RUNS.c.completed_at >= since)
        .group_by(_RUNS.c.task_id)
    )
    tallies = {task_id: Tally(int(ok), int(ok) + int(bad)) for task_id, ok, bad in rows}
    return {task_id: tallies.get(task_id, Tally(0, 0)) for task_id in task_ids}
