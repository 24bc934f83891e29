"""Queries over the worker registry and the statistics of what workers ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.statuses import TERMINAL_STATUSES, RunStatus
from persistence.models import TaskRun, Worker

ALIVE = "Alive"
DOWN = "Down"


def alive_condition(now: datetime, liveness: timedelta) -> ColumnElement[bool]:
    """A worker is alive while it says so and its last heartbeat is recent enough."""
    return and_(Worker.status == ALIVE, Worker.last_heartbeat >= now - liveness)


def effective_status(worker: Worker, now: datetime, liveness: timedelta) -> str:
    if worker.status == ALIVE and worker.last_heartbeat >= now - liveness:
        return ALIVE
    return DOWN


async def register(
    session: AsyncSession,
    *,
    worker_id: str,
    hostname: str,
    ip_address: str,
    task_types: list[str],
    max_concurrent_tasks: int,
    now: datetime,
) -> None:
    """Insert or refresh the worker's row: a restarted worker starts a new uptime."""
    worker = await session.get(Worker, worker_id, with_for_update=True)
    if worker is None:
        worker = Worker(id=worker_id)
        session.add(worker)
    worker.hostname = hostname
    worker.ip_address = ip_address
    worker.supported_task_types = task_types
    worker.max_concurrent_tasks = max_concurrent_tasks
    worker.current_task_count = 0
    worker.status = ALIVE
    worker.last_heartbeat = now
    worker.registered_at = now


async def heartbeat(
    session: AsyncSession, worker_id: str, current_task_count: int, now: datetime
) -> bool:
    """Record a heartbeat; False when the row is gone (the caller registers again)."""
    result = await session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values(current_task_count=current_task_count, status=ALIVE, last_heartbeat=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_down(session: AsyncSession, worker_id: str) -> None:
    await session.execute(
        update(Worker).where(Worker.id == worker_id).values(status=DOWN, current_task_count=0)
    )


async def mark_stale_down(session: AsyncSession, now: datetime, liveness: timedelta) -> int:
    """Persist ``Down`` for workers whose heartbeat is older than the liveness window."""
    result = await session.execute(
        update(Worker)
        .where(Worker.status == ALIVE, Worker.last_heartbeat < now - liveness)
        .values(status=DOWN, current_task_count=0)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def list_workers(
    session: AsyncSession,
    *,
    status: str | None,
    now: datetime,
    liveness: timedelta,
    offset: int,
    limit: int,
) -> tuple[list[Worker], int]:
    conditions: list[ColumnElement[bool]] = []
    alive = alive_condition(now, liveness)
    if status == ALIVE:
        conditions.append(alive)
    elif status == DOWN:
        conditions.append(~alive)
    total = await session.scalar(select(func.count()).select_from(Worker).where(*conditions))
    rows = await session.scalars(
        select(Worker).where(*conditions).order_by(Worker.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def get_worker(session: AsyncSession, worker_id: str) -> Worker | None:
    return await session.get(Worker, worker_id)


@dataclass(frozen=True)
class WorkerRunStats:
    total: int
    successful: int
    failed: int
    average_duration_ms: float | None
    last_24h: int
    last_7d: int
    last_completed: datetime | None


async def run_stats(session: AsyncSession, worker_id: str, now: datetime) -> WorkerRunStats:
    """What a worker executed (runs whose final attempt ran there), as one SQL aggregate."""
    finished = TaskRun.status.in_([s.value for s in TERMINAL_STATUSES])
    completed = TaskRun.status == RunStatus.COMPLETED
    failed = or_(TaskRun.status == RunStatus.FAILED, TaskRun.status == RunStatus.TIMEOUT)

    def since(delta: timedelta) -> Any:
        return func.count(case((TaskRun.completed_at >= now - delta, 1)))

    row = (
        await session.execute(
            select(
                func.count(),
                func.count(case((completed, 1))),
                func.count(case((failed, 1))),
                func.avg(TaskRun.execution_duration_ms),
                since(timedelta(hours=24)),
                since(timedelta(days=7)),
                func.max(TaskRun.completed_at),
            ).where(TaskRun.worker_id == worker_id, finished)
        )
    ).one()
    return WorkerRunStats(
        total=int(row[0]),
        successful=int(row[1]),
        failed=int(row[2]),
        average_duration_ms=round(float(row[3]), 2) if row[3] is not None else None,
        last_24h=int(row[4]),
        last_7d=int(row[5]),
        last_completed=row[6],
    )


async def finished_since_by_worker(
    session: AsyncSession, worker_ids: list[str], since: datetime
) -> dict[str, int]:
    """Runs that ended at or after ``since`` per worker, for the workers named (one query).

    Counts by final attempt's worker, like ``run_stats``; a worker without
    such a run is absent.
    """
    if not worker_ids:
        return {}
    rows = await session.execute(
        select(TaskRun.worker_id, func.count())
        .where(
            TaskRun.worker_id.in_(worker_ids),
            TaskRun.completed_at >= since,
            TaskRun.status.in_([s.value for s in TERMINAL_STATUSES]),
        )
        .group_by(TaskRun.worker_id)
    )
    return {str(worker_id): int(count) for worker_id, count in rows}
