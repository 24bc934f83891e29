"""Executor attempts' outcomes, recorded before they are reported to Temporal.

Keyed by run and attempt number. An attempt that Temporal retries because it
never received the previous attempt's report finds that report here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Delete, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence.conflicts import inserting_unless_present
from persistence.models import AttemptOutcome
from persistence.runs import storable_text
from persistence.types import utcnow

_OUTCOMES = AttemptOutcome.metadata.tables[AttemptOutcome.__tablename__]


@dataclass(frozen=True, slots=True)
class RecordedOutcome:
    """One attempt's outcome as its executor reported it (masked already)."""

    task_run_id: int
    attempt: int
    succeeded: bool
    output: str
    error: str | None
    failure_type: str | None
    non_retryable: bool
    worker_id: str
    started_at: datetime
    duration_ms: int


async def record(session: AsyncSession, outcome: RecordedOutcome) -> None:
    """Keep ``outcome``; a second record of the same attempt keeps the first."""
    values = asdict(outcome)
    values["output"] = storable_text(outcome.output) or ""
    values["error"] = storable_text(outcome.error)
    values["recorded_at"] = utcnow()
    await session.execute(inserting_unless_present(session, _OUTCOMES), values)


async def latest_before(
    session: AsyncSession, task_run_id: int, attempt: int
) -> RecordedOutcome | None:
    """The outcome of the run's latest attempt numbered below ``attempt``, if one was recorded."""
    columns = [_OUTCOMES.c[name] for name in RecordedOutcome.__dataclass_fields__]
    row = (
        await session.execute(
            select(*columns)
            .where(_OUTCOMES.c.task_run_id == task_run_id, _OUTCOMES.c.attempt < attempt)
            .order_by(_OUTCOMES.c.attempt.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else RecordedOutcome(*tuple(row))


async def forget_run(session: AsyncSession, task_run_id: int) -> None:
    """The run has finished: no attempt of it will be retried; the caller commits."""
    await session.execute(forgetting(task_run_id))


def forgetting(task_run_id: int | ColumnElement[int]) -> Delete:
    """The ``DELETE`` of ``forget_run``."""
    return delete(_OUTCOMES).where(_OUTCOMES.c.task_run_id == task_run_id)
