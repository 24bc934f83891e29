"""Recorded backfills: how the mirror tells a backfilled run from a schedule fire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TaskBackfill
from persistence.types import utcnow

_BACKFILLS = TaskBackfill.metadata.tables[TaskBackfill.__tablename__]


async def record_backfill(
    session: AsyncSession, task_id: int, start: datetime, end: datetime, requested_by: str
) -> int:
    """Write down that ``requested_by`` backfills ``task_id`` over ``[start, end]``.

    Record it in the transaction that asks Temporal for the backfill, before
    the call: the runs it starts then find the record when they begin.
    Returns the record's id; the caller commits.
    """
    inserted = await session.execute(
        insert(_BACKFILLS)
        .values(
            task_id=task_id,
            start_at=start,
            end_at=end,
            requested_by=requested_by,
            requested_at=utcnow(),
        )
        .returning(_BACKFILLS.c.id)
    )
    backfill_id: int = inserted.scalar_one()
    return backfill_id


def _covering(
    task_id: int | ColumnElement[int], fire_time: datetime | ColumnElement[datetime]
) -> list[ColumnElement[bool]]:
    return [
        _BACKFILLS.c.task_id == task_id,
        _BACKFILLS.c.start_at <= fire_time,
        _BACKFILLS.c.end_at >= fire_time,
    ]


def is_backfilled(task_id: int, fire_time: datetime) -> ColumnElement[bool]:
    """SQL: a recorded backfill of ``task_id`` covers ``fire_time``."""
    return exists().where(*_covering(task_id, fire_time))


def backfilled_by(task_id: int, fire_time: datetime) -> ScalarSelect[str]:
    """SQL: who asked for the first backfill covering ``fire_time`` (it started the run)."""
    return (
        select(_BACKFILLS.c.requested_by)
        .where(*_covering(task_id, fire_time))
        .order_by(_BACKFILLS.c.id)
        .limit(1)
        .scalar_subquery()
    )
