"""``INSERT ... ON CONFLICT DO NOTHING`` for whichever backend a session talks to."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import Base


def insert_unless_present(
    session: AsyncSession, table: Table | type[Base], values: dict[str, Any]
) -> Insert:
    """An insert of ``values`` that leaves an existing row alone (a unique key
    already taken) instead of failing; no row comes back from ``RETURNING`` then.

    Postgres and SQLite spell it the same way, but SQLAlchemy builds it per dialect.
    """
    dialect = session.bind.dialect.name if session.bind is not None else ""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).values(**values).on_conflict_do_nothing()


def inserting_unless_present(session: AsyncSession, table: Table) -> Insert:
    """``insert_unless_present`` without its values, built once per backend and table:
    execute it with the row as its parameters. For the inserts every run makes,
    where building the statement cost about as much CPU as executing it."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    return _bare_insert_unless_present(dialect == "postgresql", table)


@functools.cache
def _bare_insert_unless_present(postgresql: bool, table: Table) -> Insert:
    insert = pg_insert if postgresql else sqlite_insert
    return insert(table).on_conflict_do_nothing()
