"""Worker reads: the registry as it is now, and what each worker executed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import ApiError, ErrorCode
from api.pagination import Page, PageRequest, page_of
from api.workers.schemas import WorkerOut, WorkerStatsOut
from persistence import workers
from persistence.models import Worker


def _load(worker: Worker, alive: bool) -> float:
    if not alive or worker.max_concurrent_tasks <= 0:
        return 0.0
    return round(worker.current_task_count * 100.0 / worker.max_concurrent_tasks, 2)


def worker_out(worker: Worker, now: datetime, liveness: timedelta) -> WorkerOut:
    status = workers.effective_status(worker, now, liveness)
    alive = status == workers.ALIVE
    return WorkerOut(
        id=worker.id,
        hostname=worker.hostname,
        ip_address=worker.ip_address,
        supported_task_types=list(worker.supported_task_types),
        max_concurrent_tasks=worker.max_concurrent_tasks,
        current_task_count=worker.current_task_count if alive else 0,
        status=status,
        load_percentage=_load(worker, alive),
        last_heartbeat=worker.last_heartbeat,
        registered_at=worker.registered_at,
    )


def worker_not_found(worker_id: str) -> ApiError:
    return ApiError(404, ErrorCode.WORKER_NOT_FOUND, f"Worker with ID {worker_id!r} not found")


class WorkerReader:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], liveness_seconds: float) -> None:
        self._sessions = sessions
        self._liveness = timedelta(seconds=liveness_seconds)

    async def list(self, page: PageRequest, status: str | None) -> Page[WorkerOut]:
        now = datetime.now(UTC)
        async with self._sessions() as session:
            rows, total = await workers.list_workers(
                session,
                status=status,
                now=now,
                liveness=self._liveness,
                offset=page.offset,
                limit=page.page_size,
            )
        return page_of([worker_out(w, now, self._liveness) for w in rows], total, page)

    async def finished_last_24h(self, worker_ids: Sequence[str]) -> dict[str, int]:
        """Runs each named worker finished in the last 24 hours (absent: none)."""
        since = datetime.now(UTC) - timedelta(hours=24)
        async with self._sessions() as session:
            return await workers.finished_since_by_worker(session, list(worker_ids), since)

    async def detail(self, worker_id: str) -> WorkerOut:
        async with self._sessions() as session:
            worker = await workers.get_worker(session, worker_id)
        if worker is None:
            raise worker_not_found(worker_id)
        return worker_out(worker, datetime.now(UTC), self._liveness)

    async def stats(self, worker_id: str) -> WorkerStatsOut:
        now = datetime.now(UTC)
        async with self._sessions() as session:
            worker = await workers.get_worker(session, worker_id)
            if worker is None:
                raise worker_not_found(worker_id)
            stats = await workers.run_stats(session, worker_id, now)
        current = worker_out(worker, now, self._liveness)
        alive = current.status == workers.ALIVE
        finished = stats.successful + stats.failed
        return WorkerStatsOut(
            total_tasks_executed=stats.total,
            successful_tasks=stats.successful,
            failed_tasks=stats.failed,
            success_rate=round(stats.successful * 100.0 / finished, 2) if finished else 0.0,
            average_execution_time_ms=stats.average_duration_ms,
            current_load_percentage=current.load_percentage,
            uptime_seconds=int((now - worker.registered_at).total_seconds()) if alive else 0,
            tasks_last_24h=stats.last_24h,
            tasks_last_7d=stats.last_7d,
            last_task_completed=stats.last_completed,
        )
