"""The metrics timer: reads on its own schedule, outlives a database it cannot read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.observability.collector import RUN_BOUNDS, DatabaseSnapshots
from persistence.database import create_engine, create_sessionmaker
from persistence.migrate import migrate
from persistence.run_tally import RunTally

INTERVAL = 0.1


def _timers() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "metrics-refresh"]


def test_the_timer_survives_an_unreadable_database_and_stops_with_close(
    tmp_path: Path,
) -> None:
    # A SQLite file in a directory that does not exist yet: every read fails
    # until the directory is made and migrated, as a database coming back.
    url = f"sqlite+aiosqlite:///{tmp_path / 'later' / 'scheduler.db'}"

    async def main() -> None:
        engine = create_engine(url)
        snapshots = DatabaseSnapshots(
            create_sessionmaker(engine, read_only=True, one_snapshot=True),
            RunTally(RUN_BOUNDS),
            interval_seconds=INTERVAL,
            timeout_seconds=2,
        )
        snapshots.start()
        try:
            assert await snapshots.current() is None
            await asyncio.sleep(INTERVAL * 5)
            assert await snapshots.current() is None
            assert [timer.done() for timer in _timers()] == [False]
            (tmp_path / "later").mkdir()
            await migrate(engine)
            for _ in range(100):
                snapshot = await snapshots.current()
                if snapshot is not None:
                    break
                await asyncio.sleep(INTERVAL)
            assert snapshot is not None
            assert set(snapshot.tasks) <= {"Active", "Inactive"}
        finally:
            await snapshots.close()
            await engine.dispose()
        assert _timers() == []

    asyncio.run(main())
