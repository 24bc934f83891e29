"""The start outbox: triggers and backfills committed, whose Temporal start is not confirmed.

An entry is written in the transaction of its run row (or backfill record),
so a committed trigger always has either its workflow or its entry; it is
deleted once Temporal holds the workflow (or the backfill).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Exists,
    Insert,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from persistence.models import OutboxEntry as OutboxRow
from persistence.models import Task, TaskBackfill, TaskRun

_OUTBOX = OutboxRow.metadata.tables[OutboxRow.__tablename__]
_TASKS = Task.metadata.tables[Task.__tablename__]
_BACKFILLS = TaskBackfill.metadata.tables[TaskBackfill.__tablename__]
_RUNS = TaskRun.metadata.tables[TaskRun.__tablename__]


@dataclass(frozen=True, slots=True)
class PendingStart:
    """One outbox entry with what starting it needs."""

    id: int
    task_id: int
    task_name: str
    task_type: str
    task_run_id: int | None
    """The run to start; None for a backfill."""
    workflow_id: str | None
    trigger: str | None
    backfill_start: datetime | None
    backfill_end: datetime | None
    overlap_policy: str | None


async def add_run(session: AsyncSession, task_id: int, task_run_id: int, now: datetime) -> int:
    """Queue the start of a run just written; returns the entry's id. The caller commits."""
    inserted = await session.execute(
        insert(_OUTBOX)
        .values(task_id=task_id, task_run_id=task_run_id, created_at=now, attempts=0)
        .returning(_OUTBOX.c.id)
    )
    entry_id: int = inserted.scalar_one()
    return entry_id


def adding_run(
    task_id: ColumnElement[int], task_run_id: ColumnElement[int], now: ColumnElement[datetime]
) -> Insert:
    """``add_run`` as a statement, for a run inserted in the same statement (``task_run_id``
    read from that insert); it returns the entry's id."""
    return (
        insert(_OUTBOX)
        .from_select(
            ["task_id", "task_run_id", "created_at", "attempts"],
            select(task_id, task_run_id, now, literal(0, _OUTBOX.c.attempts.type)),
        )
        .returning(_OUTBOX.c.id)
    )


async def add_backfill(
    session: AsyncSession, task_id: int, backfill_id: int, overlap_policy: str, now: datetime
) -> int:
    """Queue a recorded backfill of the task's schedule; returns the entry's id (caller commits)."""
    inserted = await session.execute(
        insert(_OUTBOX)
        .values(
            task_id=task_id,
            backfill_id=backfill_id,
            overlap_policy=overlap_policy,
            created_at=now,
            attempts=0,
        )
        .returning(_OUTBOX.c.id)
    )
    entry_id: int = inserted.scalar_one()
    return entry_id


async def remove(session: AsyncSession, entry_id: int) -> None:
    """The entry's start is confirmed (or can never happen); the caller commits."""
    await session.execute(delete(_OUTBOX).where(_OUTBOX.c.id == entry_id))


async def remove_run(session: AsyncSession, task_run_id: int) -> bool:
    """Drop a run's entry before it is started; False when it had none. The caller commits."""
    removed = await session.execute(
        delete(_OUTBOX).where(_OUTBOX.c.task_run_id == task_run_id).returning(_OUTBOX.c.id)
    )
    return removed.first() is not None


async def note_failure(session: AsyncSession, entry_id: int, error: str) -> None:
    """Count a failed start of the entry and keep why; the caller commits."""
    await session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == entry_id)
        .values(attempts=_OUTBOX.c.attempts + 1, last_error=error[:2000])
    )


async def backlog_before(session: AsyncSession, before: datetime) -> bool:
    """True when an entry older than ``before`` is still waiting for its start."""
    found = await session.scalar(select(waiting_since(before)))
    return bool(found)


def waiting_since(before: datetime | ColumnElement[datetime]) -> Exists:
    """``backlog_before`` as an expression, to ask it within another statement."""
    return exists().where(_OUTBOX.c.created_at < before)


async def pending(session: AsyncSession, before: datetime, limit: int) -> list[PendingStart]:
    """Up to ``limit`` entries created before ``before``, oldest first, with their task."""
    rows = await session.execute(
        select(
            _OUTBOX.c.id,
            _OUTBOX.c.task_id,
            _TASKS.c.name,
            _TASKS.c.task_type,
            _OUTBOX.c.task_run_id,
            _RUNS.c.workflow_id,
            _RUNS.c.trigger,
            _BACKFILLS.c.start_at,
            _BACKFILLS.c.end_at,
            _OUTBOX.c.overlap_policy,
        )
        .join(_TASKS, _TASKS.c.id == _OUTBOX.c.task_id)
        .outerjoin(_RUNS, _RUNS.c.id == _OUTBOX.c.task_run_id)
        .outerjoin(_BACKFILLS, _BACKFILLS.c.id == _OUTBOX.c.backfill_id)
        .where(_OUTBOX.c.created_at < before)
        .order_by(_OUTBOX.c.id)
        .limit(limit)
    )
    return [PendingStart(*tuple(row)) for row in rows]


def is_unstarted(run_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """SQL: the run's start is still in the outbox (its workflow may not exist yet)."""
    return exists().where(_OUTBOX.c.task_run_id == run_id)
