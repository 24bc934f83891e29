"""The ``/metrics`` run figures, kept by ``RunTally``, against a full read of the same database.

A database of its own per backend (the tally counts every run it holds),
written and read with the product's own engine and sessions.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.observability.collector import RUN_BOUNDS
from persistence.database import create_engine, create_sessionmaker
from persistence.migrate import _alembic_config, migrate
from persistence.models import Task, TaskRun
from persistence.run_tally import RunFigures, RunTally, run_figures
from tests.conftest import POSTGRES_URL, empty_postgres_database

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_names = itertools.count()


@pytest.fixture(params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'tally.db'}"
    else:
        with empty_postgres_database("scheduler_tally") as url:
            yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with empty_postgres_database("scheduler_tally") as url:
        yield url


async def _with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        await work(engine)
    finally:
        await engine.dispose()


def run(url: str, work: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    asyncio.run(_with_engine(url, work))


_TASKS = Task.metadata.tables[Task.__tablename__]


async def add_task(sessions: async_sessionmaker[AsyncSession], task_type: str = "shell") -> int:
    # Core, naming only the columns it writes: the upgrade test adds tasks on an older schema.
    async with sessions() as session, session.begin():
        task_id = await session.scalar(
            insert(_TASKS)
            .values(
                name=f"tally-{next(_names)}-{uuid.uuid4().hex[:6]}",
                task_type=task_type,
                schedule="0 0 * * *",
                parameters={"command": "true"},
                timeout_seconds=60,
                max_retries=0,
                status="Active",
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
            .returning(_TASKS.c.id)
        )
        assert task_id is not None
        return int(task_id)


def run_values(task_id: int, status: str, **extra: Any) -> dict[str, Any]:
    """A run row's columns: open runs as they are while open, finished ones complete."""
    values: dict[str, Any] = {
        "task_id": task_id,
        "workflow_id": f"tally-{uuid.uuid4().hex}",
        "trigger": "manual",
        "status": status,
        "retry_count": 0,
        "scheduled_at": T0,
        "definition": {"dependencies": []},
        "created_at": T0,
        "updated_at": T0,
    }
    if status != "Pending":
        values |= {"dispatched_at": T0, "started_at": T0 + timedelta(seconds=0.3)}
    if status in ("Completed", "Failed", "Timeout"):
        values |= {"completed_at": T0 + timedelta(seconds=2.3), "execution_duration_ms": 2000}
    return values | extra


async def add_runs(sessions: async_sessionmaker[AsyncSession], rows: list[dict[str, Any]]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(TaskRun), rows)


async def finish(sessions: async_sessionmaker[AsyncSession], status: str, *ids: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(TaskRun)
            .where(TaskRun.id.in_(ids))
            .values(
                status=status,
                started_at=T0 + timedelta(seconds=1),
                completed_at=T0 + timedelta(seconds=31),
                execution_duration_ms=30_000,
            )
        )


async def run_ids(sessions: async_sessionmaker[AsyncSession], status: str) -> list[int]:
    async with sessions() as session:
        found = await session.scalars(
            select(TaskRun.id).where(TaskRun.status == status).order_by(TaskRun.id)
        )
        return list(found)


Comparable = dict[str, Any]


def comparable(figures: RunFigures) -> Comparable:
    """The figures with series in a fixed order and sums rounded (added in another order)."""

    def series(items: Any) -> dict[tuple[str, ...], tuple[Any, ...]]:
        return {
            one.labels: (one.cumulative_counts, one.count, round(one.total, 6)) for one in items
        }

    return {
        "by_status": {status: n for status, n in figures.by_status.items() if n},
        "run_durations": series(figures.run_durations),
        "start_lags": series(figures.start_lags),
        "dependency_waits": series(figures.dependency_waits),
    }


class Reader:
    """The tally as ``/metrics`` refreshes it, and a full read of the same database."""

    def __init__(self, engine: AsyncEngine, tally: RunTally) -> None:
        self.tally = tally
        self._snapshots = create_sessionmaker(engine, read_only=True, one_snapshot=True)

    async def tallied(self) -> Comparable:
        async with self._snapshots() as session:
            return comparable(await self.tally.figures(session))

    async def full(self) -> Comparable:
        async with self._snapshots() as session:
            return comparable(await run_figures(session, RUN_BOUNDS))


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


def test_tally_matches_a_full_read_as_runs_start_finish_and_arrive(database_url: str) -> None:
    async def work(engine: AsyncEngine) -> None:
        sessions = create_sessionmaker(engine)
        reader = Reader(engine, RunTally(RUN_BOUNDS))
        shell, http = await add_task(sessions), await add_task(sessions, "http")
        waits = {"definition": {"dependencies": [shell]}, "created_at": T0 - timedelta(seconds=40)}
        await add_runs(
            sessions,
            [run_values(shell, "Completed") for _ in range(5)]
            + [run_values(http, "Failed"), run_values(http, "Timeout", trigger="schedule")]
            + [run_values(shell, "Pending", **waits), run_values(shell, "Running", **waits)]
            + [run_values(http, "Dispatched"), run_values(shell, "Running")],
        )
        first = await reader.tallied()
        assert first == await reader.full()
        assert first["by_status"] == {
            "Completed": 5,
            "Failed": 1,
            "Timeout": 1,
            "Pending": 1,
            "Running": 2,
            "Dispatched": 1,
        }
        assert reader.tally.watched == 4  # the open runs

        # Open runs finish, new runs arrive (finished and open), nothing else.
        running = await run_ids(sessions, "Running")
        await finish(sessions, "Completed", running[0])
        await finish(sessions, "Failed", running[1])
        await add_runs(
            sessions, [run_values(http, "Completed"), run_values(shell, "Running", **waits)]
        )
        second = await reader.tallied()
        assert second == await reader.full()
        assert second["by_status"]["Completed"] == 7
        assert reader.tally.watched == 3
        assert second != first

    run(database_url, work)


def test_deleted_runs_stay_counted(database_url: str) -> None:
    async def work(engine: AsyncEngine) -> None:
        sessions = create_sessionmaker(engine)
        reader = Reader(engine, RunTally(RUN_BOUNDS))
        task = await add_task(sessions)
        await add_runs(sessions, [run_values(task, "Completed") for _ in range(3)])
        await add_runs(sessions, [run_values(task, "Running")])
        before = await reader.tallied()

        # Retention purges finished runs; deleting the task deletes the open one too.
        async with sessions() as session, session.begin():
            await session.execute(delete(TaskRun).where(TaskRun.task_id == task))
        after = await reader.tallied()
        assert (await reader.full())["by_status"] == {}
        assert after["by_status"] == {"Completed": 3}  # a counter never goes down
        assert after["run_durations"] == before["run_durations"]
        assert reader.tally.watched == 0

        # A new run gets a new id (SQLite would reuse the deleted newest one's id).
        await add_runs(sessions, [run_values(await add_task(sessions), "Completed")])
        assert (await reader.tallied())["by_status"] == {"Completed": 4}

    run(database_url, work)


# SQLite lets one transaction write at a time: no insert can commit past an uncommitted one.
@pytest.mark.skipif(not POSTGRES_URL, reason="needs SCHEDULER_TEST_DATABASE_URL")
def test_an_insert_committed_after_the_mark_passed_it_is_counted(
    postgres_url: str, clock: list[float]
) -> None:
    async def work(engine: AsyncEngine) -> None:
        sessions = create_sessionmaker(engine)
        reader = Reader(engine, RunTally(RUN_BOUNDS, gap_seconds=60, clock=lambda: clock[0]))
        task = await add_task(sessions)
        async with sessions() as slow:
            # Takes an id, then stays uncommitted while a later run commits.
            await slow.execute(insert(TaskRun), [run_values(task, "Completed")])
            await add_runs(sessions, [run_values(task, "Completed")])
            assert (await reader.tallied())["by_status"] == {"Completed": 1}
            assert reader.tally.watched == 1  # the id below the newest that is not visible
            await slow.commit()
        clock[0] += 59
        assert (await reader.tallied())["by_status"] == {"Completed": 2}
        assert reader.tally.watched == 0

        # An insert that rolls back leaves a gap, watched until it expires.
        async with sessions() as rolled_back:
            await rolled_back.execute(insert(TaskRun), [run_values(task, "Completed")])
            await add_runs(sessions, [run_values(task, "Completed")])
            await reader.tallied()
            await rolled_back.rollback()
        assert reader.tally.watched == 1
        clock[0] += 30
        await reader.tallied()
        assert reader.tally.watched == 1
        clock[0] += 31
        assert (await reader.tallied())["by_status"] == {"Completed": 3}
        assert reader.tally.watched == 0

    run(postgres_url, work)


def test_a_failed_refresh_leaves_the_tally_as_it_was(database_url: str) -> None:
    async def work(engine: AsyncEngine) -> None:
        sessions = create_sessionmaker(engine)
        reader = Reader(engine, RunTally(RUN_BOUNDS))
        task = await add_task(sessions)
        await add_runs(sessions, [run_values(task, "Running")])
        assert (await reader.tallied())["by_status"] == {"Running": 1}
        await finish(sessions, "Completed", *(await run_ids(sessions, "Running")))
        await add_runs(sessions, [run_values(task, "Completed")])

        # The refresh dies on its last statement, after it has folded the finished runs.
        class Failing(AsyncSession):
            calls = 0

            async def execute(self, *args: Any, **kwargs: Any) -> Any:
                Failing.calls += 1
                if Failing.calls > 6:
                    raise ConnectionResetError("the database went away")
                return await super().execute(*args, **kwargs)

        broken = async_sessionmaker(
            create_sessionmaker(engine, read_only=True, one_snapshot=True).kw["bind"],
            class_=Failing,
        )
        async with broken() as session:
            with pytest.raises(ConnectionResetError):
                await reader.tally.figures(session)
        assert Failing.calls > 6
        assert await reader.tallied() == await reader.full()
        assert (await reader.tallied())["by_status"] == {"Completed": 2}

    run(database_url, work)


def test_sqlite_upgrade_keeps_the_runs_and_stops_reusing_ids(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'upgrade.db'}"

    def to_0003(connection: Connection) -> None:
        command.upgrade(_alembic_config(connection), "0003")

    async def main() -> tuple[list[int], list[int]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(to_0003)
                await conn.commit()
            sessions = create_sessionmaker(engine)
            task = await add_task(sessions)
            await add_runs(sessions, [run_values(task, "Completed") for _ in range(3)])
            await migrate(engine)
            kept = await run_ids(sessions, "Completed")
            async with sessions() as session, session.begin():
                await session.execute(delete(TaskRun).where(TaskRun.id == max(kept)))
            await add_runs(sessions, [run_values(task, "Failed")])
            return kept, await run_ids(sessions, "Failed")
        finally:
            await engine.dispose()

    kept, new = asyncio.run(main())
    assert kept == [1, 2, 3]  # through the table rebuild
    assert new == [4]  # not the deleted newest id, 3
