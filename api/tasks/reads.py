"""Read use cases over tasks and runs: plain indexed queries, no Temporal calls."""

from __future__ import annotations

import asyncio
import builtins
import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError

from api.errors import run_not_found, task_not_found
from api.pagination import Page, PageRequest, page_of
from api.schedules.preview import next_runs
from api.schedules.schemas import TaskScheduleOut
from api.tasks.fires import FireLedgerReader
from api.tasks.schemas import RunOut, TaskDetail, TaskOut, TaskStatsOut
from api.tasks.views import TaskViews, run_out, stats_out
from domain.fire_times import DstPolicy
from persistence import run_stats, runs, status_history, tasks
from persistence.task_detail import TaskDetailQuery
from workflows.schedules import ScheduleManager
from workflows.web_ui import WebUi

log = logging.getLogger(__name__)

RECENT_RUNS = 10
STATUS_HISTORY = 20


# Stats stay answerable while Temporal is slow or down: the skip count is then null.
SKIPPED_LOOKUP_SECONDS = 2.0


class TaskReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        schedules: ScheduleManager,
        ui: WebUi,
        ledger: FireLedgerReader,
        views: TaskViews,
    ) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._schedules = schedules
        self._ui = ui
        self._views = views
        self._detail = TaskDetailQuery(RECENT_RUNS)

    async def list(
        self, page: PageRequest, status: str | None, name: str | None, task_type: str | None
    ) -> Page[TaskOut]:
        async with self._sessions() as session:
            rows, total = await tasks.list_tasks(
                session,
                status=status,
                name=name,
                task_type=task_type,
                offset=page.offset,
                limit=page.page_size,
            )
            deps = await tasks.dependencies_of(session, [task.id for task in rows])
        return page_of([self._views.task(task, deps[task.id]) for task in rows], total, page)

    async def detail(self, task_id: int) -> TaskDetail:
        async with self._sessions() as session:
            record = await self._detail.load(session, task_id, datetime.now(UTC))
            if record is None:
                raise task_not_found(task_id)
            history = await status_history.newest(session, task_id, STATUS_HISTORY)
        return self._views.detail(record, self._ui, history)

    async def runs(
        self, task_id: int, page: PageRequest, status: str | None, trigger: str | None = None
    ) -> Page[RunOut]:
        async with self._sessions() as session:
            if await tasks.get_task(session, task_id) is None:
                raise task_not_found(task_id)
            rows, total = await runs.list_runs(
                session, task_id, status, page.offset, page.page_size, trigger
            )
        return page_of([run_out(run, self._ui) for run in rows], total, page)

    async def stats(self, task_id: int) -> TaskStatsOut:
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id)
            if task is None:
                raise task_not_found(task_id)
            now = datetime.now(UTC)
            stats = await run_stats.task_stats(session, task_id, now)
            missed = await self._ledger.missed_last_7d(session, task, now)
        return stats_out(stats, await self._skipped(task_id), missed)

    async def _skipped(self, task_id: int) -> int | None:
        """Scheduled fires Temporal skipped because this task's previous run was still open."""
        try:
            return await asyncio.wait_for(
                self._schedules.skipped_runs(task_id), SKIPPED_LOOKUP_SECONDS
            )
        except (TimeoutError, RPCError, RuntimeError) as exc:
            log.warning("could not read skipped runs of task %s from Temporal: %s", task_id, exc)
            return None

    async def schedule(self, task_id: int, count: int) -> TaskScheduleOut:
        """The task's next ``count`` fires, as Temporal will make them."""
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id)
        if task is None:
            raise task_not_found(task_id)
        policy = DstPolicy(task.dst_policy)
        return TaskScheduleOut(
            schedule=task.schedule,
            timezone=task.timezone,
            dst_policy=policy,
            paused=task.status != "Active",
            next_runs=next_runs(task.schedule, task.timezone, policy, datetime.now(UTC), count),
        )

    async def dependents(self, task_id: int) -> builtins.list[tuple[int, str]]:
        """The tasks that depend on ``task_id`` (and so keep it from being deleted)."""
        async with self._sessions() as session:
            return await tasks.dependents_named(session, task_id)

    async def run(self, run_id: int) -> RunOut:
        async with self._sessions() as session:
            run = await runs.get_run_row(session, run_id)
        if run is None:
            raise run_not_found(run_id)
        return run_out(run, self._ui)
