"""The task list with what each task's runs look like: the console's front page, read in
a fixed number of statements per page (the page and its count, the newest runs, the tallies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.pagination import Page, PageRequest, page_of
from api.tasks.views import next_run_at
from persistence import run_overview, tasks
from persistence.models import Task
from persistence.run_overview import RunBrief, Tally

STRIP_RUNS = 20
"""Runs in a row's strip of recent runs."""
RATE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class TaskLine:
    """One row of the task list."""

    task: Task
    next_run_at: datetime | None
    recent_runs: list[RunBrief]
    """Newest first, at most ``STRIP_RUNS``."""
    week: Tally
    """Runs finished in the last 7 days."""

    @property
    def last_run(self) -> RunBrief | None:
        return self.recent_runs[0] if self.recent_runs else None


class TaskOverviews:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def page(
        self, page: PageRequest, status: str | None, name: str | None, task_type: str | None
    ) -> Page[TaskLine]:
        """One page of tasks (by id, filtered as ``GET /api/tasks`` filters) with their runs."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            rows, total = await tasks.list_tasks(
                session,
                status=status,
                name=name,
                task_type=task_type,
                offset=page.offset,
                limit=page.page_size,
            )
            ids = [task.id for task in rows]
            recent = await run_overview.newest_runs(session, ids, STRIP_RUNS)
            week = await run_overview.tallies_since(session, ids, now - RATE_WINDOW)
        # Tasks often share a schedule (every hour, every 5 minutes), and finding
        # a cron's next fire costs a few milliseconds: once per schedule a page.
        upcoming: dict[tuple[str, str | None, str, str], datetime | None] = {}
        lines = []
        for task in rows:
            key = (task.schedule, task.timezone, task.dst_policy, task.status)
            if key not in upcoming:
                upcoming[key] = next_run_at(task, now)
            lines.append(TaskLine(task, upcoming[key], recent[task.id], week[task.id]))
        return page_of(lines, total, page)
