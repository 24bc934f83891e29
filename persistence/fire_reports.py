"""The late and missed fires the fire watch reported: recorded once, sent once handed over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.conflicts import insert_unless_present
from persistence.models import FireReport

_REPORTS = FireReport.metadata.tables[FireReport.__tablename__]


@dataclass(frozen=True, slots=True)
class Report:
    """One reported fire: which task, which fire time, which event, when it was found."""

    id: int
    task_id: int
    fire_at: datetime
    event: str
    detected_at: datetime


async def record(
    session: AsyncSession, task_id: int, fire_at: datetime, event: str, now: datetime
) -> bool:
    """Record ``event`` for the task's fire at ``fire_at``; False when it already was."""
    values = {"task_id": task_id, "fire_at": fire_at, "event": event, "detected_at": now}
    inserted = await session.execute(
        insert_unless_present(session, _REPORTS, values).returning(_REPORTS.c.id)
    )
    return inserted.first() is not None


async def unsent(session: AsyncSession, limit: int) -> list[Report]:
    """Reports not yet handed to Temporal, oldest first."""
    rows = await session.execute(
        select(FireReport)
        .where(FireReport.emitted_at.is_(None))
        .order_by(FireReport.id)
        .limit(limit)
    )
    return [
        Report(row.id, row.task_id, row.fire_at, row.event, row.detected_at)
        for row in rows.scalars()
    ]


async def mark_sent(session: AsyncSession, report_id: int, now: datetime) -> None:
    await session.execute(
        update(FireReport).where(FireReport.id == report_id).values(emitted_at=now)
    )


async def purge_fired_before(session: AsyncSession, before: datetime) -> int:
    """Delete sent reports of fires before ``before`` (the watch no longer looks there)."""
    deleted = await session.execute(
        delete(FireReport).where(FireReport.fire_at < before, FireReport.emitted_at.is_not(None))
    )
    return int(getattr(deleted, "rowcount", 0) or 0)


async def count_after(session: AsyncSession, event: str, after_id: int) -> tuple[int, int]:
    """How many ``event`` reports have an id above ``after_id``, and the highest id seen."""
    count, newest = (
        await session.execute(
            select(func.count(), func.max(FireReport.id)).where(
                FireReport.event == event, FireReport.id > after_id
            )
        )
    ).one()
    return int(count or 0), int(newest or after_id)
