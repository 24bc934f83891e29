"""The models and the migrations describe the same schema.

Alembic's autogenerate comparison runs against the session's database, which
the migrations built; any difference (a column, index, constraint or type
one side lacks) fails the test with the operations autogenerate would write
to fix it. A model change without its migration, or a migration the models
do not follow, cannot land.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from persistence.database import create_engine
from persistence.models import Base
from tests.persistence.conftest import Database


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True},
    )
    return list(compare_metadata(context, Base.metadata))


async def _drift(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_differences)
    finally:
        await engine.dispose()


def test_models_match_the_migrated_schema(db: Database) -> None:
    drift = asyncio.run(_drift(db.database_url))
    assert drift == [], "models and migrations differ:\n" + "\n".join(map(repr, drift))
