"""Rows written straight into the database: worker registry rows, so a test controls
the counts, and run ends, for the API tests that have no worker to finish a run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence.models import TaskRun, Worker
from tests.credential_rows import HasDatabase, with_sessions


def add_workers(stack: HasDatabase, statuses: list[str]) -> list[str]:
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


def remove_workers(stack: HasDatabase, ids: list[str]) -> None:
    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session, session.begin():
            await session.execute(delete(Worker).where(Worker.id.in_(ids)))

    with_sessions(stack, work)


def complete_run(stack: HasDatabase, run_id: int, output: str = "done\n") -> None:
    """End an open run ``Completed`` as an executor and the orchestrator would have."""

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            await session.execute(
                update(TaskRun)
                .where(TaskRun.id == run_id)
                .values(
                    status="Completed",
                    dispatched_at=now,
                    started_at=now,
                    completed_at=now,
                    execution_duration_ms=0,
                    result=output,
                    worker_id="test-worker",
                )
            )

    with_sessions(stack, work)
