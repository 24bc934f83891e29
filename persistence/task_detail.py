"""The task detail read model: the task, its dependencies, its statistics and its
newest runs in one statement, one round trip.

``GET /api/tasks/{id}`` is the API's most read page. Built from four ORM
queries it cost ~3 ms of CPU per request, nearly all of it SQLAlchemy
building, keying and processing statements; this statement is built once
(see ``persistence.run_stats``) and returns plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from persistence import run_stats
from persistence.models import Task, TaskRun
from persistence.run_stats import TaskStats
from persistence.runs import RUN_FIELDS, RunRow
from persistence.tasks import dependency_ids_of, dependency_list


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as its API view shows it; a ``Task`` has the same attributes."""

    id: int
    name: str
    task_type: str
    schedule: str
    timezone: str | None
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    dependency_timeout_seconds: int | None
    status: str
    created_at: datetime
    updated_at: datetime
    overlap_policy: str
    catchup_window_seconds: int | None
    jitter_seconds: int
    dst_policy: str
    notifications: list[dict[str, Any]] | None
    late_after_seconds: int | None
    pause_after_failures: int | None
    paused_reason: str | None
    redeliver_finished: bool


TASK_FIELDS = tuple(field.name for field in fields(TaskRow))


@dataclass(frozen=True, slots=True)
class TaskDetailRecord:
    task: TaskRow
    dependencies: list[int]
    stats: TaskStats
    recent_runs: list[RunRow]
    """Newest first."""


def _statement(recent_limit: int) -> Any:
    tasks, runs = Task.__table__, TaskRun.__table__
    task_id = bindparam("task_id", type_=Integer)
    # One string for all edges, so it repeats on every run row instead of
    # multiplying rows.
    dependencies = dependency_ids_of(task_id).label("deps")
    recent = (
        select(*(runs.c[name].label(f"run_{name}") for name in RUN_FIELDS))
        .where(runs.c.task_id == task_id)
        .order_by(runs.c.id.desc())
        .limit(recent_limit)
        .subquery("recent")
    )
    return (
        select(*(tasks.c[name] for name in TASK_FIELDS), run_stats.AGGREGATE, dependencies, recent)
        .select_from(tasks.join(run_stats.AGGREGATE, true()).outerjoin(recent, true()))
        .where(tasks.c.id == task_id)
        .order_by(recent.c.run_id.desc())
    )


class TaskDetailQuery:
    """Reads ``TaskDetailRecord``s with ``recent_limit`` newest runs each."""

    def __init__(self, recent_limit: int) -> None:
        self._statement = _statement(recent_limit)

    async def load(
        self, db: AsyncSession | AsyncConnection, task_id: int, now: datetime
    ) -> TaskDetailRecord | None:
        """The detail of task ``task_id`` as of ``now``, or None when there is no such task."""
        result = await db.execute(self._statement, run_stats.parameters(task_id, now))
        rows = result.mappings().all()
        if not rows:
            return None
        first = rows[0]
        return TaskDetailRecord(
            task=TaskRow(*(first[name] for name in TASK_FIELDS)),
            dependencies=dependency_list(first["deps"]),
            stats=run_stats.stats_of(first),
            recent_runs=[
                RunRow(*(row[f"run_{name}"] for name in RUN_FIELDS))
                for row in rows
                if row["run_id"] is not None
            ],
        )
