"""System statistics: counts over tasks, workers and runs, from indexed SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.system.schemas import SystemStatsOut
from persistence import system


def start_of_day(now: datetime) -> datetime:
    """00:00 UTC of ``now``'s day: where "today" begins."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class SystemReader:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def stats(self) -> SystemStatsOut:
        async with self._sessions() as session:
            stats = await system.system_stats(session, start_of_day(datetime.now(UTC)))
        return SystemStatsOut(
            total_tasks=stats.total_tasks,
            active_tasks=stats.active_tasks,
            total_workers=stats.total_workers,
            active_workers=stats.active_workers,
            running_task_runs=stats.running_task_runs,
            completed_task_runs_today=stats.completed_task_runs_today,
            failed_task_runs_today=stats.failed_task_runs_today,
        )
