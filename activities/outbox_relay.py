"""The outbox relay: starts in Temporal whatever the API committed but did not start.

A periodic job of the orchestrator. An entry is left by an API that died
between its commit and its start, or that could not reach Temporal; the
relay starts entries oldest first and stops a pass at the first one Temporal
cannot be reached for, so a backlog built up during an outage starts in the
order it was accepted once Temporal is back. Starting is idempotent (the
workflow id is the run's), so several relays, or a relay and an API, may
start the same entry: one workflow results and every caller succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.service import RPCError, RPCStatusCode

from domain.schedule_policy import OverlapPolicy
from persistence import outbox, tasks
from workflows.run_starts import RunStarter, RunToStart
from workflows.schedules import ScheduleManager

log = logging.getLogger(__name__)

_UNREACHABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


def unreachable(exc: BaseException) -> bool:
    """Temporal did not answer (down, cut off, overloaded), as opposed to refusing the start."""
    if isinstance(exc, RPCError):
        return exc.status in _UNREACHABLE
    # The SDK reports a failed (lazy) connection as RuntimeError; a bounded call times out.
    return isinstance(exc, RuntimeError | TimeoutError | OSError)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        starter: RunStarter,
        schedules: ScheduleManager,
        *,
        grace_seconds: float,
        start_timeout_seconds: float,
        batch_size: int = 200,
    ) -> None:
        self._sessions = sessions
        self._starter = starter
        self._schedules = schedules
        # Entries younger than this are the API's to start at once; relaying them
        # too would only double the calls.
        self._grace = timedelta(seconds=grace_seconds)
        self._timeout = start_timeout_seconds
        self._batch_size = batch_size

    async def run_forever(self, interval_seconds: float, stop: asyncio.Event) -> None:
        """One pass every ``interval_seconds`` (at once again after a full batch) until ``stop``."""
        while not stop.is_set():
            delivered = 0
            try:
                delivered = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying next interval")
            if delivered >= self._batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)

    async def relay_once(self) -> int:
        """Start the waiting entries, oldest first; how many were started (or found started)."""
        before = datetime.now(UTC) - self._grace
        async with self._sessions() as session:
            entries = await outbox.pending(session, before, self._batch_size)
        delivered = 0
        for entry in entries:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._deliver(entry)
            except Exception as exc:
                async with self._sessions() as session, session.begin():
                    await outbox.note_failure(session, entry.id, f"{type(exc).__name__}: {exc}")
                if unreachable(exc):
                    log.warning(
                        "outbox: Temporal unreachable (%s); %s entries wait",
                        exc,
                        len(entries) - delivered,
                    )
                    break
                log.warning(
                    "outbox: starting entry %s of task %s failed: %s", entry.id, entry.task_id, exc
                )
                continue
            async with self._sessions() as session, session.begin():
                await outbox.remove(session, entry.id)
            delivered += 1
        if delivered:
            log.info("outbox: started %s runs or backfills the API had not started", delivered)
        return delivered

    async def _deliver(self, entry: outbox.PendingStart) -> None:
        if entry.task_run_id is not None and entry.workflow_id is not None:
            await self._starter.start_run(
                RunToStart(
                    task_id=entry.task_id,
                    task_name=entry.task_name,
                    task_type=entry.task_type,
                    task_run_id=entry.task_run_id,
                    workflow_id=entry.workflow_id,
                    trigger=entry.trigger or "manual",
                )
            )
            return
        if entry.backfill_start is None or entry.backfill_end is None:
            raise ValueError(f"outbox entry {entry.id} names neither a run nor a backfill")
        async with self._sessions() as session:
            task = await tasks.get_task(session, entry.task_id)
        if task is None:
            return  # deleted meanwhile: its schedule is gone with it
        # A missing schedule fails here; the reconciler recreates it and a later pass backfills.
        await self._schedules.backfill(
            tasks.schedule_spec(task),
            entry.backfill_start,
            entry.backfill_end,
            OverlapPolicy(entry.overlap_policy or OverlapPolicy.BUFFER_ALL),
        )
