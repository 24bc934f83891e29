"""The reconciler: repairs what crashes and out-of-band Temporal actions leave behind.

A periodic job of the orchestrator. Every pass is idempotent, so several
orchestrators may run it at once:

- runs still open in the database whose workflow has closed (terminated or
  cancelled from the Web UI or CLI) get their final state;
- tasks without a schedule get one, a schedule built from another definition
  than its task's (a process died between the two writes) is rebuilt, a
  schedule's paused flag follows its task's status, and schedules whose task
  is gone are deleted;
- workers whose heartbeat is older than the liveness window are marked Down;
- revoked tokens past their expiry are purged, and so is run history older
  than the retention period (in bounded batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, ScheduleListState, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.statuses import RunStatus
from domain.tasks import ScheduledTask
from persistence import credentials, idempotency, runs, tasks, workers
from workflows.schedules import ScheduleManager

log = logging.getLogger(__name__)

_SCHEDULE_ID = re.compile(r"^task-(\d+)(-dst)?$")

CLOSED_REASONS = {
    WorkflowExecutionStatus.TERMINATED: (RunStatus.FAILED, "workflow terminated in Temporal"),
    WorkflowExecutionStatus.CANCELED: (RunStatus.FAILED, "workflow cancelled in Temporal"),
    WorkflowExecutionStatus.TIMED_OUT: (RunStatus.TIMEOUT, "workflow timed out in Temporal"),
    WorkflowExecutionStatus.FAILED: (RunStatus.FAILED, "workflow failed in Temporal"),
    WorkflowExecutionStatus.COMPLETED: (RunStatus.FAILED, "workflow ended without a result"),
}


class Reconciler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        schedules: ScheduleManager,
        *,
        settle_seconds: float = 30.0,
        worker_liveness_seconds: float = 30.0,
        run_retention_days: int = 90,
        batch_size: int = 200,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._schedules = schedules
        self._settle = timedelta(seconds=settle_seconds)
        self._liveness = timedelta(seconds=worker_liveness_seconds)
        self._retention = timedelta(days=run_retention_days)
        self._batch_size = batch_size
        # Orphan schedules are deleted only when seen twice: a task being
        # created has its schedule a moment before its row is committed.
        self._orphan_candidates: set[int] = set()
        # Open runs are checked a batch per pass, in id order, wrapping around,
        # so runs that legitimately stay open (waiting on dependencies) do not
        # starve the rest.
        self._run_cursor = 0

    async def run_forever(self, interval_seconds: float, stop: asyncio.Event) -> None:
        """One pass every ``interval_seconds`` until ``stop`` is set; a failed pass is logged."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("reconciler pass failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)

    async def run_once(self) -> None:
        await self.close_orphaned_runs()
        await self.sync_schedules()
        await self.mark_silent_workers_down()
        await self.purge_expired_revocations()
        await self.purge_expired_idempotency_keys()
        await self.purge_old_runs()

    async def purge_old_runs(self, batches: int = 20, batch_size: int = 1000) -> int:
        """Delete run history past the retention period, a bounded batch per transaction."""
        before = datetime.now(UTC) - self._retention
        purged = 0
        for _ in range(batches):
            async with self._sessions() as session, session.begin():
                deleted = await runs.purge_finished_before(session, before, batch_size)
            purged += deleted
            if deleted < batch_size:
                break
            await asyncio.sleep(0)  # let other work on this loop in between batches
        if purged:
            log.info("purged %s runs finished before %s", purged, before.isoformat())
        return purged

    async def purge_expired_revocations(self) -> None:
        """A revoked token past its own expiry is refused anyway: its row can go."""
        async with self._sessions() as session, session.begin():
            await credentials.purge_expired_revocations(session, datetime.now(UTC))

    async def purge_expired_idempotency_keys(self) -> None:
        """A trigger's idempotency key past its replay window names nothing any more."""
        async with self._sessions() as session, session.begin():
            await idempotency.purge_expired(session, datetime.now(UTC))

    async def mark_silent_workers_down(self) -> None:
        """Persist Down for workers past the liveness window (reads already show it)."""
        async with self._sessions() as session, session.begin():
            count = await workers.mark_stale_down(session, datetime.now(UTC), self._liveness)
        if count:
            log.warning("%s worker(s) stopped heartbeating; marked Down", count)

    async def close_orphaned_runs(self) -> int:
        """Final state for open runs whose workflow closed without writing it; returns how many."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            candidates = await runs.open_runs_older_than(
                session, now - self._settle, self._run_cursor, self._batch_size
            )
        self._run_cursor = candidates[-1][0] if len(candidates) == self._batch_size else 0
        closed = 0
        for run_id, workflow_id in candidates:
            try:
                described = await self._client.get_workflow_handle(workflow_id).describe()
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                # Runs still waiting for their start are not candidates: this
                # workflow was deleted in Temporal by hand.
                status, reason = RunStatus.FAILED, "workflow not found in Temporal"
            else:
                if described.status is None or described.status not in CLOSED_REASONS:
                    continue
                status, reason = CLOSED_REASONS[described.status]
            async with self._sessions() as session, session.begin():
                recorded = await runs.finish_run(
                    session,
                    run_id,
                    runs.RunEnd(status=status, completed_at=now, error_message=reason),
                )
            if recorded is not None:
                closed += 1
                log.warning("run %s reconciled: %s (%s)", run_id, status, reason)
        return closed

    async def sync_schedules(self) -> None:
        """Make Temporal's schedules match the task table."""
        listed: dict[int, ScheduleListState] = {}
        companions: set[int] = set()
        async for schedule in await self._client.list_schedules():
            match = _SCHEDULE_ID.match(schedule.id)
            if match and match.group(2):
                # A companion follows its task's schedule (ScheduleManager); only an
                # orphaned one is the reconciler's business.
                companions.add(int(match.group(1)))
            elif match and schedule.schedule is not None:
                listed[int(match.group(1))] = schedule.schedule.state
        settled_before = datetime.now(UTC) - self._settle
        async with self._sessions() as session:
            all_tasks = await tasks.all_tasks(session)
        known = {task.id for task in all_tasks}
        for task in all_tasks:
            if task.updated_at > settled_before:
                continue  # just written: the listing may not show its schedule yet
            spec: ScheduledTask = tasks.schedule_spec(task)
            state = listed.get(task.id)
            if state is None:
                log.warning("task %s has no schedule; creating it", task.id)
                await self._schedules.upsert(spec)
            elif not self._schedules.holds(spec, state.note):
                log.warning("schedule of task %s differs from the task; rebuilding it", task.id)
                await self._schedules.upsert(spec)
            elif state.paused == spec.active:
                log.warning("schedule of task %s has the wrong paused flag; fixing it", task.id)
                await self._schedules.set_paused(spec)
        orphans = {task_id for task_id in listed.keys() | companions if task_id not in known}
        for task_id in orphans & self._orphan_candidates:
            async with self._sessions() as session:
                if await tasks.get_task(session, task_id) is not None:
                    continue
            log.warning("schedule task-%s has no task; deleting it", task_id)
            await self._schedules.delete(task_id)
        self._orphan_candidates = orphans - self._orphan_candidates
