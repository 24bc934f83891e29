"""A task's status history: every pause and resume, with when and by whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.models import TaskStatusChange

_CHANGES = TaskStatusChange.metadata.tables[TaskStatusChange.__tablename__]


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    changed_at: datetime
    changed_by: str | None
    via: str


_COLUMNS = (_CHANGES.c.status, _CHANGES.c.changed_at, _CHANGES.c.changed_by, _CHANGES.c.via)


async def record(
    session: AsyncSession,
    task_id: int,
    status: str,
    changed_at: datetime,
    changed_by: str | None,
    via: str,
) -> None:
    """Add a change to the task's history, in the transaction that changes the task."""
    await session.execute(
        insert(_CHANGES).values(
            task_id=task_id, status=status, changed_at=changed_at, changed_by=changed_by, via=via
        )
    )


async def newest(session: AsyncSession, task_id: int, limit: int) -> list[StatusChange]:
    """The task's ``limit`` newest changes, newest first."""
    rows = await session.execute(
        select(*_COLUMNS)
        .where(_CHANGES.c.task_id == task_id)
        .order_by(_CHANGES.c.changed_at.desc(), _CHANGES.c.id.desc())
        .limit(limit)
    )
    return [StatusChange(*row) for row in rows]
