"""Persistence tests: the product's queries on a migrated database of each backend, no stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from persistence.database import create_engine
from persistence.migrate import migrate
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


@pytest.fixture(scope="session", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A fresh database of each backend at the migrations' head, for the session."""
    backend: str = request.param
    directory = tmp_path_factory.mktemp(f"persistence-{backend}")
    with fresh_database(backend, directory) as url:
        asyncio.run(_migrate(url))
        yield Database(
            backend=backend,
            database_url=url,
            env={"SCHEDULER_DATA_DIR": str(directory), "DATABASE_URL": url},
        )
