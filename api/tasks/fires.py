"""The fire ledger of a task: every fire time its schedule defined, and what became of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import task_not_found, validation_error
from api.tasks.schemas import FireOut, FiresOut, FireSummary
from domain.fire_ledger import FireOutcome, LedgerEntry, classify
from domain.fire_times import FireTime, fire_times
from persistence import fire_ledger, tasks
from persistence.fire_ledger import LedgerDefaults, dst_policy_of, ledger_policy
from persistence.models import Task

MAX_RANGE = timedelta(days=7)
DEFAULT_RANGE = timedelta(hours=24)
# fire_times gives t > after; fire times are whole seconds, so this keeps one at ``from``.
_INCLUSIVE = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Ledger:
    fires: list[FireTime]
    entries: list[LedgerEntry]


async def task_ledger(
    session: AsyncSession,
    task: Task,
    start: datetime,
    end: datetime,
    now: datetime,
    defaults: LedgerDefaults,
) -> Ledger:
    """The ledger of ``task`` for fire times in ``[start, end]`` (none before it was created)."""
    after = max(start - _INCLUSIVE, task.created_at)
    fires = (
        fire_times(task.schedule, task.timezone, dst_policy_of(task), after=after, until=end)
        if after < end
        else []
    )
    if not fires:
        return Ledger([], [])
    first, last = fires[0].at - _INCLUSIVE, fires[-1].at
    runs = (await fire_ledger.runs_at(session, [task.id], first, last)).get(task.id, {})
    spans = (await fire_ledger.open_spans(session, [task.id], first, last)).get(task.id, [])
    changes = (await fire_ledger.status_changes(session, [task.id], last)).get(task.id, [])
    entries = classify(
        [fire.at for fire in fires],
        runs,
        spans,
        changes,
        ledger_policy(task, defaults),
        now,
    )
    return Ledger(fires, entries)


class FireLedgerReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        defaults: LedgerDefaults,
        run_retention_days: int,
    ) -> None:
        self._sessions = sessions
        self._defaults = defaults
        self._retention = timedelta(days=run_retention_days)

    async def fires(self, task_id: int, start: datetime | None, end: datetime | None) -> FiresOut:
        now = datetime.now(UTC)
        start, end = self._range(start, end, now)
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id)
            if task is None:
                raise task_not_found(task_id)
            ledger = await task_ledger(session, task, start, end, now, self._defaults)
        counts = Counter(entry.outcome for entry in ledger.entries)
        return FiresOut(
            task_id=task_id,
            from_=start,
            to=end,
            fires=[
                FireOut(
                    at=entry.at,
                    outcome=entry.outcome,
                    task_run_id=entry.run.id if entry.run else None,
                    status=entry.run.status if entry.run else None,
                    note=fire.note,
                )
                for fire, entry in zip(ledger.fires, ledger.entries, strict=True)
            ],
            summary=FireSummary(
                expected=len(ledger.entries) - counts[FireOutcome.UPCOMING],
                ran=counts[FireOutcome.RAN],
                skipped_overlap=counts[FireOutcome.SKIPPED_OVERLAP],
                skipped_paused=counts[FireOutcome.SKIPPED_PAUSED],
                missed=counts[FireOutcome.MISSED],
                upcoming=counts[FireOutcome.UPCOMING],
            ),
        )

    async def missed_last_7d(self, session: AsyncSession, task: Task, now: datetime) -> int:
        """Fires of the last 7 days the ledger calls ``missed`` (task stats)."""
        ledger = await task_ledger(session, task, now - MAX_RANGE, now, now, self._defaults)
        return sum(entry.outcome is FireOutcome.MISSED for entry in ledger.entries)

    def _range(
        self, start: datetime | None, end: datetime | None, now: datetime
    ) -> tuple[datetime, datetime]:
        for name, value in (("from", start), ("to", end)):
            if value is not None and value.tzinfo is None:
                raise validation_error(name, "must carry a time zone (RFC 3339, e.g. ...Z)")
        if start is None and end is None:
            end = now
        if end is None:
            assert start is not None
            end = start + DEFAULT_RANGE
        if start is None:
            start = end - DEFAULT_RANGE
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if start >= end:
            raise validation_error("to", "must be later than from")
        if end - start > MAX_RANGE:
            raise validation_error("to", "the range may span at most 7 days")
        if start < now - self._retention:
            raise validation_error(
                "from",
                f"runs before {(now - self._retention).isoformat()} have been purged "
                "(SCHEDULER_RUN_RETENTION_DAYS); the ledger cannot tell what became of those fires",
            )
        return start, end
