"""Idempotency keys of manual triggers: one run per key within the replay window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.conflicts import insert_unless_present
from persistence.models import TriggerIdempotencyKey

REPLAY_WINDOW = timedelta(hours=24)
"""How long a key names the run it made; after that it may be used afresh."""

_KEYS = TriggerIdempotencyKey.metadata.tables[TriggerIdempotencyKey.__tablename__]


@dataclass(frozen=True, slots=True)
class KeyUse:
    """The run an idempotency key made, and for which task."""

    task_id: int
    task_run_id: int


async def claim(
    session: AsyncSession, key: str, task_id: int, task_run_id: int, now: datetime
) -> bool:
    """Make ``key`` name ``task_run_id`` of ``task_id``; False when it already
    names a run made within the replay window.

    One statement decides, so concurrent claims of one key cannot both win:
    the insert skips a key that exists (on Postgres it waits for a concurrent
    inserter's transaction first), and an expired key is taken over by an
    update whose condition a concurrent takeover has already falsified.
    The caller commits, or rolls back to give the key up.
    """
    values = {"key": key, "task_id": task_id, "task_run_id": task_run_id, "created_at": now}
    inserted = await session.execute(
        insert_unless_present(session, _KEYS, values).returning(_KEYS.c.key)
    )
    if inserted.first() is not None:
        return True
    taken_over = await session.execute(
        update(_KEYS)
        .where(_KEYS.c.key == key, _KEYS.c.created_at < now - REPLAY_WINDOW)
        .values(task_id=task_id, task_run_id=task_run_id, created_at=now)
        .returning(_KEYS.c.key)
    )
    return taken_over.first() is not None


async def use_of(session: AsyncSession, key: str, now: datetime) -> KeyUse | None:
    """What ``key`` made within the replay window, or None."""
    row = (
        await session.execute(
            select(_KEYS.c.task_id, _KEYS.c.task_run_id).where(
                _KEYS.c.key == key, _KEYS.c.created_at >= now - REPLAY_WINDOW
            )
        )
    ).first()
    return None if row is None else KeyUse(task_id=row[0], task_run_id=row[1])


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete keys past the replay window; returns how many."""
    deleted = await session.execute(delete(_KEYS).where(_KEYS.c.created_at < now - REPLAY_WINDOW))
    return int(getattr(deleted, "rowcount", 0) or 0)
