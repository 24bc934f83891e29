"""The fire watch on hand-made task and run rows: each late and missed fire is recorded
once, sent once, and a fire found while sending fails is sent on a later pass."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.fire_watch import FireWatch
from persistence.fire_ledger import LedgerDefaults
from persistence.fire_reports import Report
from persistence.models import FireReport, Task, TaskRun
from tests.credential_rows import with_sessions
from tests.persistence.conftest import Database, new_task

# Fires in the future of the rows' creation: the watch is handed its clock.
T0 = datetime(2031, 3, 4, 5, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DEFAULTS = LedgerDefaults(catchup_seconds=10, grace_seconds=60)
SETTLE = timedelta(seconds=DEFAULTS.catchup_seconds + DEFAULTS.grace_seconds)


class Outbox:
    """The notifications the watch hands over; ``down`` makes it refuse them."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, datetime, str]] = []
        self.down = False

    async def emit(self, report: Report) -> None:
        if self.down:
            raise ConnectionError("Temporal is unreachable")
        self.sent.append((report.task_id, report.fire_at, report.event))


async def _run(
    sessions: async_sessionmaker[AsyncSession],
    task_id: int,
    at: datetime,
    started_after: timedelta | None,
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            TaskRun(
                task_id=task_id,
                workflow_id=f"task-{task_id}-{at.isoformat()}-{uuid.uuid4().hex[:6]}",
                trigger="schedule",
                status="Running" if started_after is not None else "Dispatched",
                scheduled_at=at,
                started_at=at + started_after if started_after is not None else None,
                definition={},
                created_at=at,
                updated_at=at,
            )
        )


async def _reports(
    sessions: async_sessionmaker[AsyncSession], task_ids: set[int]
) -> list[tuple[int, datetime, str]]:
    """The reports of ``task_ids``: the session's database holds other tests' tasks too."""
    async with sessions() as session:
        rows = await session.scalars(
            select(FireReport).where(FireReport.task_id.in_(task_ids)).order_by(FireReport.id)
        )
        return [(row.task_id, row.fire_at, row.event) for row in rows]


def test_late_and_missed_fires_are_reported_once_and_sent_when_they_can_be(
    db: Database,
) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        # One task whose runs start 2 s, 50 s and never after their fires (late
        # after 30 s), one task with no runs at all (missed, and never late).
        watched = await new_task(
            sessions, prefix="late", schedule="* * * * *", status="Active", late_after_seconds=30
        )
        silent = await new_task(sessions, prefix="missed", schedule="* * * * *", status="Active")
        mine = {watched, silent}
        outbox = Outbox()

        def sent() -> list[tuple[int, datetime, str]]:
            return [report for report in outbox.sent if report[0] in mine]

        await _run(sessions, watched, T0, timedelta(seconds=2))
        await _run(sessions, watched, T0 + MINUTE, timedelta(seconds=50))
        await _run(sessions, watched, T0 + 2 * MINUTE, None)
        async with sessions() as session, session.begin():  # their first fire is T0
            await session.execute(
                update(Task).where(Task.id.in_(mine)).values(created_at=T0 - timedelta(seconds=1))
            )
        watch = FireWatch(sessions, outbox.emit, defaults=DEFAULTS, lookback=timedelta(minutes=10))
        await watch.run_once(T0)

        outbox.down = True
        now = T0 + 2 * MINUTE + timedelta(seconds=40)  # every fire so far is past 30 s
        await watch.run_once(now)
        late = {(watched, T0 + MINUTE, "late"), (watched, T0 + 2 * MINUTE, "late")}
        settled = {(silent, T0 + n * MINUTE, "missed") for n in range(2)}  # T0+2m may still start
        assert set(await _reports(sessions, mine)) == late | settled
        assert sent() == []  # Temporal down: recorded, not sent

        outbox.down = False
        later = T0 + 2 * MINUTE + SETTLE + timedelta(seconds=1)
        await watch.run_once(later)
        missed = {(silent, T0 + n * MINUTE, "missed") for n in range(3)}
        assert set(await _reports(sessions, mine)) == late | missed
        assert set(sent()) == late | missed

        # A second watch (another orchestrator, or this one restarted) sees the
        # same fires again: nothing is recorded or sent twice.
        again = FireWatch(sessions, outbox.emit, defaults=DEFAULTS, lookback=timedelta(minutes=3))
        await again.run_once(later + timedelta(seconds=1))
        await watch.run_once(later + timedelta(seconds=2))
        assert len(sent()) == len(late | missed)
        assert len(await _reports(sessions, mine)) == len(late | missed)

    with_sessions(db, work)
