"""Persistence tests: the product's queries on a migrated database of each backend, no stack."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import tasks
from persistence.database import create_engine
from persistence.migrate import migrate
from persistence.models import Task
from tests.conftest import BACKENDS, fresh_database


@dataclass(frozen=True)
class Database:
    backend: str
    database_url: str
    env: dict[str, str]
    """Settings of the code under test (``Settings.from_env(env)``)."""


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


class DatabasePool:
    """At most one migrated database per backend, made on first use and kept for the
    session (pytest keeps one instance of a parametrized session fixture at a time)."""

    def __init__(self, exits: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._exits = exits
        self._tmp_path_factory = tmp_path_factory
        self._databases: dict[str, Database] = {}

    def get(self, backend: str) -> Database:
        if backend not in self._databases:
            directory = self._tmp_path_factory.mktemp(f"persistence-{backend}")
            url = self._exits.enter_context(fresh_database(backend, directory))
            asyncio.run(_migrate(url))
            self._databases[backend] = Database(
                backend=backend,
                database_url=url,
                env={"SCHEDULER_DATA_DIR": str(directory), "DATABASE_URL": url},
            )
        return self._databases[backend]


@pytest.fixture(scope="session")
def database_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabasePool]:
    """The session's persistence databases, dropped at its end."""
    with ExitStack() as exits:
        yield DatabasePool(exits, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def db(request: pytest.FixtureRequest, database_pool: DatabasePool) -> Database:
    """A database of each backend at the migrations' head, shared by the session's
    persistence tests (each judges only the rows it wrote)."""
    return database_pool.get(request.param)


async def new_task(
    sessions: async_sessionmaker[AsyncSession],
    *,
    prefix: str = "task",
    schedule: str = "0 0 1 1 *",
    status: str = "Inactive",
    depends_on: list[int] | None = None,
    **columns: Any,
) -> int:
    """A shell task row written straight to the database (no schedule); its id."""
    async with sessions() as session, session.begin():
        now = datetime.now(UTC)
        task = Task(
            name=f"{prefix}-{uuid.uuid4().hex[:8]}",
            task_type="shell",
            schedule=schedule,
            parameters={"command": "true"},
            timeout_seconds=60,
            max_retries=0,
            status=status,
            created_at=now,
            updated_at=now,
            **columns,
        )
        session.add(task)
        await session.flush()
        if depends_on:
            await tasks.set_dependencies(session, task.id, depends_on)
        return task.id
