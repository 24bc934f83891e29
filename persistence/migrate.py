"""Apply the Alembic migrations; every process calls this at start."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Any fixed number: it names the Postgres advisory lock that serialises
# migrations when the API and the workers start at the same moment.
_MIGRATION_LOCK_ID = 7_233_001


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this transaction commits: a session lock released before
        # the commit let a process starting alongside run the same migration
        # against the uncommitted schema (and fail, aborting its transaction).
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    command.upgrade(_alembic_config(connection), "head")


@contextlib.contextmanager
def _sqlite_file_lock(engine: AsyncEngine) -> Iterator[None]:
    """SQLite has no advisory locks: processes starting together take turns on a lock file."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent, safe to run concurrently)."""
    with _sqlite_file_lock(engine):
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()
