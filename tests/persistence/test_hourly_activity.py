"""The System page's hourly figures: finished runs per hour and status, fire lag buckets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.system.activity import ActivityReader, HourActivity, window_start
from persistence.database import create_engine, create_sessionmaker
from persistence.hourly_activity import (
    HourlyCount,
    HourlyLag,
    finished_runs_per_hour,
    fire_lag_per_hour,
)
from persistence.models import TaskRun
from tests.persistence.conftest import Database, new_task

SINCE = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=24)
SECOND = timedelta(seconds=1)

Row = tuple[str, str, datetime, dict[str, object]]
"""(trigger, status, scheduled_at, other columns) of one run."""


@asynccontextmanager
async def seeded(
    db: Database, rows: Callable[[], list[Row]]
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A task with ``rows`` as its runs, for the block; its runs removed afterwards."""
    engine = create_engine(db.database_url)
    sessions = create_sessionmaker(engine)
    task_id = await new_task(sessions, prefix="hourly")
    async with sessions() as session, session.begin():
        session.add_all(
            TaskRun(
                task_id=task_id,
                workflow_id=f"hourly-{uuid.uuid4().hex}",
                trigger=trigger,
                status=status,
                scheduled_at=scheduled,
                definition={"dependencies": []},
                **{"retry_count": 0, **columns},
            )
            for trigger, status, scheduled, columns in rows()
        )
    try:
        yield sessions
    finally:
        async with sessions() as session, session.begin():
            await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))
        await engine.dispose()


def test_finished_runs_are_counted_per_hour_and_final_status(db: Database) -> None:
    at = SINCE + timedelta(minutes=5)

    def rows() -> list[Row]:
        return [
            ("manual", "Completed", at, {"completed_at": at}),
            ("manual", "Completed", at, {"completed_at": SINCE + timedelta(minutes=60) - SECOND}),
            ("manual", "Failed", at, {"completed_at": SINCE + timedelta(hours=1)}),
            ("manual", "Timeout", at, {"completed_at": SINCE + timedelta(hours=5, minutes=30)}),
            # Before the window, at its end, and still open: none counts.
            ("manual", "Completed", at, {"completed_at": SINCE - SECOND}),
            ("manual", "Completed", at, {"completed_at": UNTIL}),
            ("manual", "Running", at, {"started_at": at}),
        ]

    async def read() -> list[HourlyCount]:
        async with seeded(db, rows) as sessions, sessions() as session:
            return await finished_runs_per_hour(session, SINCE, UNTIL)

    counts = asyncio.run(read())
    assert sorted((c.hour, c.status, c.count) for c in counts) == [
        (0, "Completed", 2),
        (1, "Failed", 1),
        (5, "Timeout", 1),
    ]


def test_fire_lag_buckets_cover_first_attempts_of_scheduled_runs_only(db: Database) -> None:
    fire = SINCE + timedelta(hours=2, minutes=10)

    def rows() -> list[Row]:
        return [
            ("schedule", "Completed", fire, {"started_at": fire + SECOND / 2}),
            ("schedule", "Completed", fire, {"started_at": fire + 5 * SECOND}),
            ("schedule", "Running", fire, {"started_at": fire + 120 * SECOND}),
            # Clock skew: a start before the fire counts as no lag.
            ("schedule", "Running", fire, {"started_at": fire - 2 * SECOND}),
            # A manual run and a retried one are not fire lag.
            ("manual", "Completed", fire, {"started_at": fire + 30 * SECOND}),
            ("schedule", "Completed", fire, {"started_at": fire + 30 * SECOND, "retry_count": 1}),
        ]

    async def read() -> list[HourlyLag]:
        async with seeded(db, rows) as sessions, sessions() as session:
            return await fire_lag_per_hour(session, SINCE, UNTIL, (1.0, 10.0, 60.0))

    lags = asyncio.run(read())
    assert [(lag.hour, lag.cumulative_counts, lag.count) for lag in lags] == [(2, (2, 3, 3), 4)]


def test_the_reader_answers_24_hours_ending_with_the_current_one(db: Database) -> None:
    now = datetime(2026, 11, 4, 15, 42, tzinfo=UTC)
    since = window_start(now)
    assert since == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)
    fire = now - timedelta(minutes=30)

    def rows() -> list[Row]:
        ran: dict[str, object] = {
            "started_at": fire + 3 * SECOND,
            "completed_at": fire + 4 * SECOND,
        }
        return [("schedule", "Completed", fire, ran)]

    async def read() -> list[HourActivity]:
        async with seeded(db, rows) as sessions:
            return await ActivityReader(sessions, (1.0, 10.0)).last_24_hours(now)

    hours = asyncio.run(read())
    assert len(hours) == 24
    assert hours[0].start == since
    assert hours[-1].start == datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    assert hours[-1].finished == {"Completed": 1}
    assert hours[-1].scheduled_starts == 1
    # One observation in the (1, 10] bucket, interpolated inside it as Prometheus does.
    assert hours[-1].lag_p50 == 5.5
    assert hours[-1].lag_p99 == pytest.approx(9.91)
    assert all(h.lag_p50 is None and not h.finished for h in hours[:-1])
