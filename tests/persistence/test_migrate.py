"""Migrations at start: processes starting together on an empty Postgres all come up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from persistence.database import create_engine
from persistence.migrate import _MIGRATION_LOCK_ID, _upgrade, migrate
from tests.conftest import POSTGRES_URL, empty_postgres_database

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs SCHEDULER_TEST_DATABASE_URL (advisory locks are Postgres's)"
)


@pytest.fixture
def empty_database() -> Iterator[str]:
    with empty_postgres_database("scheduler_migrate") as url:
        yield url


async def _migrate_together(url: str, processes: int) -> tuple[list[BaseException | None], int]:
    engines = [create_engine(url) for _ in range(processes)]
    try:
        outcomes = await asyncio.gather(
            *(migrate(engine) for engine in engines), return_exceptions=True
        )
        async with engines[0].connect() as conn:
            tables = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
    finally:
        for engine in engines:
            await engine.dispose()
    return [o if isinstance(o, BaseException) else None for o in outcomes], int(tables or 0)


def test_processes_starting_together_migrate_once(empty_database: str) -> None:
    # Each engine is its own connection, as the API and every worker process are.
    errors, tables = asyncio.run(_migrate_together(empty_database, 6))
    assert errors == [None] * 6
    assert tables >= 8  # the schema's tables and alembic_version


async def _lock_free_during_migration(url: str) -> bool:
    """Whether another connection can take the migration lock after the
    migration ran but before its transaction commits."""
    migrating, other = create_engine(url), create_engine(url)
    try:
        async with migrating.connect() as conn:
            await conn.run_sync(_upgrade)
            async with other.connect() as probe:
                free = await probe.scalar(
                    text("SELECT pg_try_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await conn.commit()
        return bool(free)
    finally:
        await migrating.dispose()
        await other.dispose()


def test_migration_lock_is_held_until_the_migration_commits(empty_database: str) -> None:
    # Released earlier, a process starting alongside migrates the uncommitted schema again.
    assert asyncio.run(_lock_free_during_migration(empty_database)) is False
