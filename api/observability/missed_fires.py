"""``scheduler_task_fires_missed_total``: fires the ledger calls missed, counted as they settle."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.fire_ledger import FireOutcome, LedgerPolicy
from persistence import fire_ledger
from persistence.fire_ledger import LedgerDefaults, fires_between, ledger_policy
from persistence.models import Task


class MissedFireTally:
    """A process-wide count of missed fires over every task (no per-task label).

    A fire is decided once it can no longer start (its time plus the task's
    jitter, catch-up window and grace: ``LedgerPolicy.settle``). Each check
    classifies the fires decided since the previous one, with the ledger's
    rule, and adds the missed ones, so the count only grows; it starts at 0
    when the process starts (Prometheus reads that as a counter reset). Checks
    run at most every ``check_every``: fire times are whole minutes, and each
    check reads every task's definition.
    """

    def __init__(self, defaults: LedgerDefaults, check_every: timedelta) -> None:
        self._defaults = defaults
        self._check_every = check_every
        self._checked_at: datetime | None = None
        self.total = 0

    async def update(self, session: AsyncSession, now: datetime) -> int:
        """Count the fires decided since the last check; the running total."""
        if self._checked_at is None:
            self._checked_at = now
            return self.total
        if now - self._checked_at < self._check_every:
            return self.total
        since = self._checked_at
        due: dict[int, tuple[LedgerPolicy, list[datetime]]] = {}
        for task in await session.scalars(select(Task)):
            policy = ledger_policy(task, self._defaults)
            due[task.id] = (policy, fires_between(task, since - policy.settle, now - policy.settle))
        entries = await fire_ledger.entries_of(session, due, now)
        self.total += sum(
            entry.outcome is FireOutcome.MISSED for found in entries.values() for entry in found
        )
        self._checked_at = now
        return self.total
