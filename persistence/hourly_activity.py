"""Runs per hour over a recent window: finished runs by final status, and fire lag buckets.

Both are one grouped SQL query each, whatever the number of runs: the hour of
a row is computed in SQL as whole hours since the window's start, so the
answer has at most ``hours x statuses`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.statuses import TERMINAL_STATUSES, RunTrigger
from persistence.models import TaskRun
from persistence.sqltime import seconds_between, whole_part
from persistence.types import UTCDateTime

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class HourlyCount:
    hour: int
    """Whole hours since the window's start (0 = the first hour)."""
    status: str
    count: int


@dataclass(frozen=True)
class HourlyLag:
    hour: int
    cumulative_counts: tuple[int, ...]
    """Scheduled runs whose fire lag is ``<=`` each bound, in the order of the bounds."""
    count: int


ROUNDING_SECONDS = 0.001
"""SQLite's julianday() arithmetic lands a hair under a whole hour at its very start;
a millisecond more puts such a row in its own hour, and no row in the wrong one."""


def _hour_of(column: Any, since: datetime) -> Any:
    # Every row counted is after ``since``: the elapsed time is never negative.
    start = literal(since, UTCDateTime())
    elapsed = seconds_between(column, start) + ROUNDING_SECONDS
    return whole_part(elapsed / SECONDS_PER_HOUR)


async def finished_runs_per_hour(
    session: AsyncSession, since: datetime, until: datetime
) -> list[HourlyCount]:
    """Runs that ended in ``[since, until)``, counted per hour of ``completed_at`` and status."""
    hour = _hour_of(TaskRun.completed_at, since).label("hour")
    rows = await session.execute(
        select(hour, TaskRun.status, func.count())
        .where(
            TaskRun.completed_at >= since,
            TaskRun.completed_at < until,
            TaskRun.status.in_([status.value for status in TERMINAL_STATUSES]),
        )
        .group_by(hour, TaskRun.status)
    )
    return [HourlyCount(int(h), str(status), int(n)) for h, status, n in rows]


async def fire_lag_per_hour(
    session: AsyncSession, since: datetime, until: datetime, bounds: Sequence[float]
) -> list[HourlyLag]:
    """Scheduled runs that started in ``[since, until)``: their fire lag bucketed per hour.

    The lag is the metric's (``scheduler_task_run_start_lag_seconds``): from the
    fire time to the first attempt's start, counted as 0 when clock skew makes
    it negative; only first attempts, as a retried run keeps its last start.
    """
    raw = seconds_between(TaskRun.started_at, TaskRun.scheduled_at)
    lag = case((raw < 0, 0.0), else_=raw)
    hour = _hour_of(TaskRun.started_at, since).label("hour")
    buckets = [func.sum(case((lag <= bound, 1), else_=0)) for bound in bounds]
    rows = await session.execute(
        select(hour, *buckets, func.count())
        .where(
            TaskRun.started_at >= since,
            TaskRun.started_at < until,
            TaskRun.trigger == RunTrigger.SCHEDULE,
            TaskRun.retry_count == 0,
        )
        .group_by(hour)
    )
    return [
        HourlyLag(
            hour=int(row[0]),
            cumulative_counts=tuple(int(n or 0) for n in row[1 : 1 + len(bounds)]),
            count=int(row[1 + len(bounds)]),
        )
        for row in rows
    ]
