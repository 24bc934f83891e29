"""Worker registry rows written straight into the database, so a test controls the counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence.models import Worker
from tests.conftest import Stack
from tests.credential_rows import with_sessions


def add_workers(stack: Stack, statuses: list[str]) -> list[str]:
    """Worker rows with these statuses (``Alive``/``Down``); returns their ids."""
    ids = [f"test-worker-{uuid.uuid4().hex[:8]}" for _ in statuses]

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            session.add_all(
                Worker(
                    id=worker_id,
                    hostname="test-host",
                    ip_address="127.0.0.1",
                    supported_task_types=["shell"],
                    max_concurrent_tasks=1,
                    current_task_count=0,
                    status=status,
                    last_heartbeat=now,
                    registered_at=now,
                )
                for worker_id, status in zip(ids, statuses, strict=True)
            )

    with_sessions(stack, work)
    return ids


def remove_workers(stack: Stack, ids: list[str]) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(delete(Worker).where(Worker.id.in_(ids)))

    with_sessions(stack, work)
