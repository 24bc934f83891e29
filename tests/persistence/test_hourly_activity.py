"""The System page's hourly figures: finished runs per hour and status, fire lag buckets."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from api.system.activity import ActivityReader, window_start
from persistence.database import create_engine, create_sessionmaker
from persistence.hourly_activity import finished_runs_per_hour, fire_lag_per_hour
from persistence.models import TaskRun
from tests.persistence.conftest import Database, new_task

SINCE = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=24)


def _run(
    task_id: int, *, trigger: str, status: str, scheduled: datetime, **times: object
) -> TaskRun:
    return TaskRun(
        task_id=task_id,
        workflow_id=f"hourly-{uuid.uuid4().hex}",
        trigger=trigger,
        status=status,
        retry_count=times.pop("retry_count", 0),
        scheduled_at=scheduled,
        definition={"dependencies": []},
        **times,
    )


def test_finished_runs_are_counted_per_hour_and_final_status(db: Database) -> None:
    async def main() -> None:
        engine = create_engine(db.database_url)
        sessions = create_sessionmaker(engine)
        task_id = await new_task(sessions, prefix="hourly")
        at = SINCE + timedelta(minutes=5)
        rows = [
            _run(task_id, trigger="manual", status="Completed", scheduled=at, completed_at=at),
            _run(
                task_id,
                trigger="manual",
                status="Completed",
                scheduled=at,
                completed_at=SINCE + timedelta(minutes=59, seconds=59),
            ),
            _run(
                task_id,
                trigger="manual",
                status="Failed",
                scheduled=at,
                completed_at=SINCE + timedelta(hours=1),
            ),
            _run(
                task_id,
                trigger="manual",
                status="Timeout",
                scheduled=at,
                completed_at=SINCE + timedelta(hours=5, minutes=30),
            ),
            # Before the window, at its end, and still open: none counts.
            _run(
                task_id,
                trigger="manual",
                status="Completed",
                scheduled=at,
                completed_at=SINCE - timedelta(seconds=1),
            ),
            _run(task_id, trigger="manual", status="Completed", scheduled=at, completed_at=UNTIL),
            _run(task_id, trigger="manual", status="Running", scheduled=at, started_at=at),
        ]
        async with sessions() as session, session.begin():
            session.add_all(rows)
        try:
            async with sessions() as session:
                counts = await finished_runs_per_hour(session, SINCE, UNTIL)
            assert sorted((c.hour, c.status, c.count) for c in counts) == [
                (0, "Completed", 2),
                (1, "Failed", 1),
                (5, "Timeout", 1),
            ]
        finally:
            async with sessions() as session, session.begin():
                await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))
            await engine.dispose()

    asyncio.run(main())


def test_fire_lag_buckets_cover_first_attempts_of_scheduled_runs_only(db: Database) -> None:
    bounds = (1.0, 10.0, 60.0)

    async def main() -> None:
        engine = create_engine(db.database_url)
        sessions = create_sessionmaker(engine)
        task_id = await new_task(sessions, prefix="lag")
        fire = SINCE + timedelta(hours=2, minutes=10)
        rows = [
            _run(
                task_id,
                trigger="schedule",
                status="Completed",
                scheduled=fire,
                started_at=fire + timedelta(seconds=0.5),
            ),
            _run(
                task_id,
                trigger="schedule",
                status="Completed",
                scheduled=fire,
                started_at=fire + timedelta(seconds=5),
            ),
            _run(
                task_id,
                trigger="schedule",
                status="Running",
                scheduled=fire,
                started_at=fire + timedelta(seconds=120),
            ),
            # Clock skew: a start before the fire counts as no lag.
            _run(
                task_id,
                trigger="schedule",
                status="Running",
                scheduled=fire,
                started_at=fire - timedelta(seconds=2),
            ),
            # A manual run and a retried one are not fire lag.
            _run(
                task_id,
                trigger="manual",
                status="Completed",
                scheduled=fire,
                started_at=fire + timedelta(seconds=30),
            ),
            _run(
                task_id,
                trigger="schedule",
                status="Completed",
                scheduled=fire,
                started_at=fire + timedelta(seconds=30),
                retry_count=1,
            ),
        ]
        async with sessions() as session, session.begin():
            session.add_all(rows)
        try:
            async with sessions() as session:
                lags = await fire_lag_per_hour(session, SINCE, UNTIL, bounds)
            assert [(lag.hour, lag.cumulative_counts, lag.count) for lag in lags] == [
                (2, (2, 3, 3), 4)
            ]
        finally:
            async with sessions() as session, session.begin():
                await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))
            await engine.dispose()

    asyncio.run(main())


def test_the_reader_answers_24_hours_ending_with_the_current_one(db: Database) -> None:
    now = datetime(2026, 11, 4, 15, 42, tzinfo=UTC)
    since = window_start(now)
    assert since == datetime(2026, 11, 3, 16, 0, tzinfo=UTC)

    async def main() -> None:
        engine = create_engine(db.database_url)
        sessions = create_sessionmaker(engine)
        task_id = await new_task(sessions, prefix="window")
        fire = now - timedelta(minutes=30)
        rows = [
            _run(
                task_id,
                trigger="schedule",
                status="Completed",
                scheduled=fire,
                started_at=fire + timedelta(seconds=3),
                completed_at=fire + timedelta(seconds=4),
            ),
        ]
        async with sessions() as session, session.begin():
            session.add_all(rows)
        try:
            hours = await ActivityReader(sessions, (1.0, 10.0)).last_24_hours(now)
            assert len(hours) == 24
            assert hours[0].start == since
            assert hours[-1].start == datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
            assert hours[-1].finished == {"Completed": 1}
            assert hours[-1].scheduled_starts == 1
            # One observation in the (1, 10] bucket, interpolated inside it as Prometheus does.
            assert hours[-1].lag_p50 == 5.5
            assert hours[-1].lag_p99 == pytest.approx(9.91)
            assert all(h.lag_p50 is None and not h.finished for h in hours[:-1])
        finally:
            async with sessions() as session, session.begin():
                await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))
            await engine.dispose()

    asyncio.run(main())
