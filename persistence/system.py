"""System-wide aggregates behind ``/api/system/stats`` and ``/metrics``: one SQL query each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.statuses import TERMINAL_STATUSES, RunStatus
from persistence import workers
from persistence.models import Task, TaskRun, Worker
from persistence.run_stats import FAILED_STATUSES
from persistence.sqltime import seconds_between

TASK_ACTIVE = "Active"


@dataclass(frozen=True)
class SystemStats:
    total_tasks: int
    active_tasks: int
    total_workers: int
    active_workers: int
    running_task_runs: int
    completed_task_runs_today: int
    failed_task_runs_today: int


def _count(model: type[Any], *conditions: ColumnElement[bool]) -> Any:
    return select(func.count()).select_from(model).where(*conditions).scalar_subquery()


async def system_stats(session: AsyncSession, today: datetime) -> SystemStats:
    """Counts over tasks, workers and runs; runs finished since ``today`` (00:00 UTC).

    Failed includes ``Timeout``. Every count has an index behind it
    (``tasks.status``, ``workers.status``, ``task_runs (status, completed_at)``).
    """
    finished_today = TaskRun.completed_at >= today
    row = (
        await session.execute(
            select(
                _count(Task),
                _count(Task, Task.status == TASK_ACTIVE),
                _count(Worker),
                _count(Worker, Worker.status == workers.ALIVE),
                _count(TaskRun, TaskRun.status == RunStatus.RUNNING),
                _count(TaskRun, TaskRun.status == RunStatus.COMPLETED, finished_today),
                _count(TaskRun, TaskRun.status.in_(list(FAILED_STATUSES)), finished_today),
            )
        )
    ).one()
    return SystemStats(*(int(value or 0) for value in row))


async def _count_by_status(
    session: AsyncSession, status: InstrumentedAttribute[str], *scope: ColumnElement[bool]
) -> dict[str, int]:
    rows = await session.execute(select(status, func.count()).where(*scope).group_by(status))
    return {str(value): int(count) for value, count in rows}


async def tasks_by_status(session: AsyncSession) -> dict[str, int]:
    return await _count_by_status(session, Task.status)


async def runs_by_status(session: AsyncSession, *scope: ColumnElement[bool]) -> dict[str, int]:
    """Runs by status, of the runs ``scope`` selects (all runs when none)."""
    return await _count_by_status(session, TaskRun.status, *scope)


async def workers_by_status(session: AsyncSession) -> dict[str, int]:
    return await _count_by_status(session, Worker.status)


async def active_tasks_by_type(session: AsyncSession) -> dict[str, int]:
    """Active tasks per task type (types without one are absent)."""
    return await _count_by_status(session, Task.task_type, Task.status == TASK_ACTIVE)


async def alive_workers_by_type(
    session: AsyncSession, now: datetime, liveness: timedelta
) -> dict[str, int]:
    """Alive workers (heartbeat within ``liveness``) per task type they serve.

    A worker serving several types counts in each. The type lists are JSON,
    read in Python: the registry holds a handful of rows, not a history.
    """
    counts: dict[str, int] = {}
    rows = await session.scalars(
        select(Worker.supported_task_types).where(workers.alive_condition(now, liveness))
    )
    for task_types in rows:
        for task_type in set(task_types or ()):
            counts[task_type] = counts.get(task_type, 0) + 1
    return counts


@dataclass(frozen=True)
class HistogramSeries:
    """One labelled series of a cumulative histogram."""

    labels: tuple[str, ...]
    cumulative_counts: tuple[int, ...]
    """Observations ``<=`` each bound, in the order of the bounds given."""
    count: int
    total: float


async def _histogram(
    session: AsyncSession,
    value: ColumnElement[Any],
    bounds: Sequence[float],
    labels: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    query_from: Any,
    *conditions: ColumnElement[bool],
) -> list[HistogramSeries]:
    """Bucket ``value`` in SQL (one ``SUM(CASE ...)`` per bound), grouped by ``labels``."""
    buckets = [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds]
    query = (
        select(*labels, *buckets, func.count(), func.sum(value))
        .select_from(query_from)
        .where(value.is_not(None), *conditions)
        .group_by(*labels)
    )
    series = []
    for row in await session.execute(query):
        width = len(labels)
        counts = tuple(int(n or 0) for n in row[width : width + len(bounds)])
        total = row[width + len(bounds) + 1]
        series.append(
            HistogramSeries(
                labels=tuple(str(label) for label in row[:width]),
                cumulative_counts=counts,
                count=int(row[width + len(bounds)]),
                total=float(total or 0.0),
            )
        )
    return series


async def run_durations(
    session: AsyncSession, bounds: Sequence[float], *scope: ColumnElement[bool]
) -> list[HistogramSeries]:
    """Execution seconds of finished runs (their final attempt) by task type and status.

    Like the other run histograms, over the runs ``scope`` selects (all when none).
    """
    seconds = TaskRun.execution_duration_ms / 1000.0
    return await _histogram(
        session,
        seconds,
        bounds,
        [Task.task_type, TaskRun.status],
        TaskRun.__table__.join(Task.__table__, Task.id == TaskRun.task_id),
        TaskRun.status.in_([status.value for status in TERMINAL_STATUSES]),
        *scope,
    )


async def start_lags(
    session: AsyncSession, bounds: Sequence[float], *scope: ColumnElement[bool]
) -> list[HistogramSeries]:
    """Seconds from ``scheduled_at`` (fire or trigger time) to the first attempt's start.

    Only runs whose recorded start is their first attempt's (``retry_count`` 0):
    a retried run keeps only its last attempt's start. Clock skew between the
    scheduler and a worker can make the difference negative; it counts as 0.
    """
    raw = seconds_between(TaskRun.started_at, TaskRun.scheduled_at)
    lag = case((raw < 0, 0.0), else_=raw)
    return await _histogram(
        session,
        lag,
        bounds,
        [TaskRun.trigger],
        TaskRun.__table__,
        TaskRun.retry_count == 0,
        *scope,
    )


async def dependency_waits(
    session: AsyncSession, bounds: Sequence[float], *scope: ColumnElement[bool]
) -> list[HistogramSeries]:
    """Seconds runs with dependencies waited: from their creation until dispatched.

    A run that never left the wait (dependency timeout, cancelled, a dependency
    deleted) waited until it ended. Runs still waiting are not observed yet.
    """
    ended_waiting = case((TaskRun.started_at.is_(None), TaskRun.completed_at))
    wait = seconds_between(func.coalesce(TaskRun.dispatched_at, ended_waiting), TaskRun.created_at)
    # The definition snapshot is JSON written by one serializer: no dependencies is "[]".
    has_dependencies = TaskRun.definition["dependencies"].as_string() != "[]"
    return await _histogram(session, wait, bounds, [], TaskRun.__table__, has_dependencies, *scope)
