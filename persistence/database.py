"""Engine and session factory for the mirror database (Postgres or SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from backoff import retry_with_backoff

READ_ONLY = "scheduler_read_only"


def create_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    """An async engine tuned for the backend the URL names."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(
            database_url, connect_args={"timeout": 30}, hide_parameters=True
        )

        # WAL lets the API read while a worker writes; foreign keys are off by
        # default in SQLite and the cascade rules depend on them.
        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # Let SQLAlchemy's "begin" event below decide how transactions start.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A deferred transaction that reads and then writes cannot wait for a
            # concurrent writer (SQLite answers "database is locked" at once), so
            # writing sessions take the write lock up front and wait their turn.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip (and ~0.5 ms of CPU) on every
        # checkout, which on the hot paths was as much as the query itself. A
        # connection the server dropped fails its statement instead; SQLAlchemy
        # then discards the whole pool, so one request answers 503 and local
        # activities retry, and later checkouts connect afresh.
        # Error messages go to logs: they must not carry request values.
        hide_parameters=True,
        pool_recycle=1800,
        # A DB that does not answer must not hang a request for minutes.
        connect_args={"timeout": 5, "command_timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # asyncpg reports a refused or unreachable server as a bare OSError, which
        # SQLAlchemy passes through unwrapped; as a DBAPI error it becomes the
        # OperationalError every caller already handles (503 DATABASE_ERROR).
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            raise dialect.loaded_dbapi.OperationalError(f"cannot connect: {exc}") from exc

    return engine


def create_sessionmaker(
    engine: AsyncEngine,
    *,
    read_only: bool = False,
    one_snapshot: bool = False,
    autocommit: bool = False,
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses read them).

    ``read_only`` sessions never write. On SQLite they do not queue behind
    writers. On Postgres each of their statements is its own transaction
    (autocommit): no BEGIN and ROLLBACK round trips around every read, at the
    price of separate snapshots for separate statements (a page and its count
    may straddle a concurrent insert; the hot reads are single statements).
    ``one_snapshot`` read-only sessions instead read everything in one
    repeatable-read transaction (SQLite's transactions always do).

    ``autocommit`` sessions are for writers whose every statement is complete
    and idempotent on its own (the mirror writes of a run's life): on Postgres
    each statement commits by itself, which saves the BEGIN and COMMIT round
    trips, two of the three a one-statement write cost. On SQLite they are
    ordinary sessions, whose transactions take the write lock up front.
    """
    options: dict[str, Any] = {READ_ONLY: True} if read_only else {}
    if read_only and engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ" if one_snapshot else "AUTOCOMMIT"
    elif autocommit and engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    bound = engine.execution_options(**options) if options else engine
    return async_sessionmaker(bound, expire_on_commit=False)


def autocommit_sessions(
    sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """``sessions`` as ``create_sessionmaker(..., autocommit=True)`` makes them: on
    Postgres each statement commits on its own; on SQLite the same sessions."""
    bind = sessions.kw["bind"]
    if bind is None or bind.dialect.name != "postgresql":
        return sessions
    return async_sessionmaker(
        bind.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


async def wait_for_database(engine: AsyncEngine, within_seconds: float) -> None:
    """Return once the database answers, retrying with backoff (capped at 5 s).

    ``within_seconds`` > 0 gives up after that long; 0 waits as long as it takes,
    so a process started before its database never crashes in a loop.
    """

    async def answer() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    await retry_with_backoff(
        answer,
        retry_on=(OperationalError, DBAPIError, OSError),
        within_seconds=within_seconds,
        what="database",
    )
