"""What the fire ledger reads (``persistence.fire_ledger``) on each backend, from rows
written straight to the database: the SQL of the ledger and of the missed-fires
metric, without waiting for a real fire (``tests/test_fire_ledger.py`` does that once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.fire_ledger import OVERLAP_GRACE, FiredRun, OpenSpan
from persistence import fire_ledger, status_history
from persistence.models import TaskRun
from tests.credential_rows import with_sessions
from tests.persistence.conftest import Database, new_task

T0 = datetime(2030, 3, 1, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _run(
    task_id: int,
    trigger: str,
    scheduled_at: datetime,
    *,
    created_at: datetime | None = None,
    completed_at: datetime | None = None,
    status: str = "Completed",
) -> TaskRun:
    return TaskRun(
        task_id=task_id,
        workflow_id=f"ledger-{uuid.uuid4().hex}",
        trigger=trigger,
        status=status,
        scheduled_at=scheduled_at,
        created_at=created_at or scheduled_at,
        completed_at=completed_at,
        definition={},
    )


def test_runs_spans_and_status_changes_are_read_per_task_within_the_range(db: Database) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        first = await new_task(sessions, prefix="ledger", schedule="* * * * *", status="Active")
        other = await new_task(sessions, prefix="ledger", schedule="* * * * *", status="Active")
        async with sessions() as session, session.begin():
            fired = _run(first, "schedule", T0 + MINUTE, completed_at=T0 + 2 * MINUTE)
            backfilled = _run(first, "backfill", T0 + 3 * MINUTE, completed_at=T0 + 3 * MINUTE)
            # A manual run is no fire, and one at the range's open end is outside it.
            manual = _run(first, "manual", T0 + 2 * MINUTE, completed_at=T0 + 2 * MINUTE)
            before = _run(first, "schedule", T0, completed_at=T0 - OVERLAP_GRACE - MINUTE)
            still_open = _run(other, "schedule", T0 + 4 * MINUTE, status="Running")
            session.add_all([fired, backfilled, manual, before, still_open])
            for at, status in ((T0 - MINUTE, "Active"), (T0 + MINUTE, "Inactive")):
                await status_history.record(session, first, status, at, "admin", "patch")
            await status_history.record(session, first, "Active", T0 + 9 * MINUTE, None, "patch")
            await session.flush()
            ids = {"fired": fired.id, "backfilled": backfilled.id, "open": still_open.id}

        until = T0 + 5 * MINUTE
        async with sessions() as session:
            runs = await fire_ledger.runs_at(session, [first, other], T0, until)
            spans = await fire_ledger.open_spans(session, [first, other], T0, until)
            changes = await fire_ledger.status_changes(session, [first, other], until)
            alone = await fire_ledger.runs_at(session, [other], T0, until)

        assert runs == {
            first: {
                T0 + MINUTE: FiredRun(ids["fired"], "Completed"),
                T0 + 3 * MINUTE: FiredRun(ids["backfilled"], "Completed"),
            },
            other: {T0 + 4 * MINUTE: FiredRun(ids["open"], "Running")},
        }
        assert alone == {other: {T0 + 4 * MINUTE: FiredRun(ids["open"], "Running")}}
        # Timestamps come back aware (UTC) on both backends, so they compare with fire times.
        assert all(at.tzinfo is not None for per_task in runs.values() for at in per_task)
        assert sorted(spans[first], key=lambda span: span.start) == [
            OpenSpan(T0 + MINUTE, T0 + 2 * MINUTE),
            OpenSpan(T0 + 3 * MINUTE, T0 + 3 * MINUTE),
        ]
        assert spans[other] == [OpenSpan(T0 + 4 * MINUTE, None)]
        # Oldest first, and nothing after ``until``.
        assert changes[first] == [(T0 - MINUTE, "Active"), (T0 + MINUTE, "Inactive")]
        assert other not in changes

    with_sessions(db, work)
