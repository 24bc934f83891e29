"""Apply the Alembic migrations; every process calls this at start.

``python -m persistence.migrate`` migrates the database the settings name and
exits: ``devstack.py`` runs it before the API and the worker, which then find
the schema current and never import Alembic.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_ASSIGNED = r"^{name}\b[^=\n]*=\s*[\"']([^\"']+)[\"']"

# Any fixed number: it names the Postgres advisory lock that serialises
# migrations when the API and the workers start at the same moment.
_MIGRATION_LOCK_ID = 7_233_001


def head_revision() -> str | None:
    """The revision at the head of the chain, read from the version files without
    Alembic; None when the files do not name exactly one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text()
        revision = re.search(_ASSIGNED.format(name="revision"), source, re.MULTILINE)
        if revision is not None:
            revisions.add(revision.group(1))
        parent = re.search(_ASSIGNED.format(name="down_revision"), source, re.MULTILINE)
        if parent is not None:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the database already records the head revision (nothing to migrate)."""
    head = head_revision()
    if head is None:
        return False
    try:
        async with engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:  # no alembic_version table yet: an empty database
        return False
    return [row[0] for row in current] == [head]


def _alembic_config(connection: Connection) -> Config:
    # Imported here: Alembic (with Mako) is ~10 MiB a process keeps for good,
    # and a process that finds the schema current never needs it.
    from alembic.config import Config

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
    from alembic import command

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
    if await _at_head(engine):
        return
    with _sqlite_file_lock(engine):
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()


async def _migrate_configured_database() -> None:
    from persistence.database import create_engine, wait_for_database
    from settings import Settings

    settings = Settings.from_env()
    engine = create_engine(settings.database_url, 1)
    try:
        await wait_for_database(engine, settings.connect_retry_seconds)
        await migrate(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(_migrate_configured_database())
