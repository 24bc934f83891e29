"""``scheduler_task_fires_missed_total``: fires the ledger calls missed, counted as they settle."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.tasks.fires import dst_policy_of, ledger_policy
from domain.fire_ledger import FireOutcome, classify
from domain.fire_times import fire_times
from persistence import fire_ledger
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

    def __init__(self, default_catchup_seconds: int, check_every: timedelta) -> None:
        self._catchup = default_catchup_seconds
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
        windows: dict[int, tuple[Task, list[datetime]]] = {}
        for task in await session.scalars(select(Task)):
            settle = ledger_policy(task, self._catchup).settle
            after, until = max(since - settle, task.created_at), now - settle
            if after >= until:
                continue
            due = [
                fire.at
                for fire in fire_times(
                    task.schedule, task.timezone, dst_policy_of(task), after=after, until=until
                )
            ]
            if due:
                windows[task.id] = (task, due)
        if windows:
            first = min(due[0] for _, due in windows.values()) - timedelta(seconds=1)
            last = max(due[-1] for _, due in windows.values())
            ids = list(windows)
            runs = await fire_ledger.runs_at(session, ids, first, last)
            spans = await fire_ledger.open_spans(session, ids, first, last)
            changes = await fire_ledger.status_changes(session, ids, last)
            missed: dict[int, int] = defaultdict(int)
            for task_id, (task, due) in windows.items():
                for entry in classify(
                    due,
                    runs.get(task_id, {}),
                    spans.get(task_id, []),
                    changes.get(task_id, []),
                    ledger_policy(task, self._catchup),
                    now,
                ):
                    if entry.outcome is FireOutcome.MISSED:
                        missed[task_id] += 1
            self.total += sum(missed.values())
        self._checked_at = now
        return self.total
