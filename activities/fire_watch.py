"""The fire watch: the orchestrator's periodic check for ``late`` and ``missed`` fires.

Every pass reads every task's fire times that became decidable since the
previous pass, classifies them with the fire ledger's rule, and records each
late or missed one once (``fire_reports``, unique per task, fire time and
event); then it hands every recorded report not yet sent to ``emit`` (a
notification). A report found while Temporal is down stays unsent and goes
out on a later pass; one sent twice (a crash between sending and marking) is
harmless, since its event id is stable and delivery drops the repeat. Passes
are idempotent, so several orchestrators may run the watch at once.

- ``late``: the task has ``late_after_seconds`` and a fire had not started
  that long after its time (no run yet, or a run still waiting), checked once
  the time has passed;
- ``missed``: the ledger's ``missed``, checked once the fire can no longer
  start (its time plus jitter, catch-up window and grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.fire_ledger import FireOutcome, LedgerPolicy, late
from domain.notifications import Event
from persistence import fire_ledger, fire_reports, tasks
from persistence.fire_ledger import LedgerDefaults, fires_between, ledger_policy
from persistence.fire_reports import Report

log = logging.getLogger(__name__)

LOOKBACK = timedelta(hours=6)
"""How far back the first pass of a process looks: fires that became decidable
while no orchestrator ran (its own restart, a stopped stack) are reported if
they are this recent. Reading a task's fires costs about 10 ms per 360 fires."""

Emit = Callable[[Report], Awaitable[None]]
"""Sends one report's notification; raises when it could not be handed over."""


class FireWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        emit: Emit,
        *,
        defaults: LedgerDefaults,
        lookback: timedelta = LOOKBACK,
        batch_size: int = 200,
    ) -> None:
        self._sessions = sessions
        self._emit = emit
        self._defaults = defaults
        self._lookback = lookback
        self._batch_size = batch_size
        self._checked_until: datetime | None = None

    async def run_forever(self, interval_seconds: float, stop: asyncio.Event) -> None:
        """One pass every ``interval_seconds`` until ``stop`` is set; a failed pass is logged."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("fire watch pass failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        await self.detect(now)
        await self.send(now)

    async def detect(self, now: datetime) -> int:
        """Record the late and missed fires decided since the last pass; how many were new."""
        since = self._checked_until or now - self._lookback
        missed_due: dict[int, tuple[LedgerPolicy, list[datetime]]] = {}
        late_due: dict[int, tuple[LedgerPolicy, list[datetime]]] = {}
        waits: dict[int, timedelta] = {}
        async with self._sessions() as session:
            for task in await tasks.all_tasks(session):
                policy = ledger_policy(task, self._defaults)
                settle = policy.settle
                missed_due[task.id] = (policy, fires_between(task, since - settle, now - settle))
                if task.late_after_seconds is not None:
                    wait = waits[task.id] = timedelta(seconds=task.late_after_seconds)
                    late_due[task.id] = (policy, fires_between(task, since - wait, now - wait))
            missed = await fire_ledger.entries_of(session, missed_due, now)
            lateness = await fire_ledger.entries_of(session, late_due, now)
        found = [
            (task_id, entry.at, Event.MISSED.value)
            for task_id, entries in missed.items()
            for entry in entries
            if entry.outcome is FireOutcome.MISSED
        ]
        found += [
            (task_id, at, Event.LATE.value)
            for task_id, entries in lateness.items()
            for at in late(entries, waits[task_id])
        ]
        recorded = 0
        if found:
            async with self._sessions() as session, session.begin():
                for task_id, at, event in sorted(found, key=lambda one: one[1]):
                    recorded += await fire_reports.record(session, task_id, at, event, now)
        if recorded:
            log.warning("fire watch: %s late or missed fire(s) found", recorded)
        self._checked_until = now
        return recorded

    async def send(self, now: datetime) -> int:
        """Hand the unsent reports to ``emit``, oldest first; stops at the first that fails."""
        async with self._sessions() as session:
            pending = await fire_reports.unsent(session, self._batch_size)
        sent = 0
        for report in pending:
            try:
                await self._emit(report)
            except Exception as exc:  # Temporal unreachable: the report waits for a later pass
                log.warning(
                    "fire watch: cannot send %s of task %s yet: %s",
                    report.event,
                    report.task_id,
                    exc,
                )
                break
            async with self._sessions() as session, session.begin():
                await fire_reports.mark_sent(session, report.id, now)
            sent += 1
        async with self._sessions() as session, session.begin():
            await fire_reports.purge_fired_before(session, now - 2 * self._lookback)
        return sent
