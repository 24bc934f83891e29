"""Runs a newer fire's start cancelled or terminated (``cancel_other``, ``terminate_other``).

Temporal cancels or terminates the task's running workflow before it starts
the fire that replaces it, and tells neither run about the other. The new
run, when it begins, settles its predecessor: a terminated run (which could
record nothing) ends ``Failed``; a cancelled one (which recorded a bare
"cancelled") keeps ``Failed``; both get an ``error_message`` that
names the run that replaced them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.schedule_policy import OverlapPolicy
from domain.statuses import OPEN_STATUSES, RunStatus, RunTrigger
from persistence.models import TaskRun
from persistence.types import utcnow

_RUNS = TaskRun.metadata.tables[TaskRun.__tablename__]
REPLACING = {OverlapPolicy.CANCEL_OTHER: "cancelled", OverlapPolicy.TERMINATE_OTHER: "terminated"}
# What the replaced run (or the reconciler, for a terminated one) recorded by itself:
# a cancelled attempt, a cancelled dependency wait, a workflow closed under it.
_BARE_REASONS = (
    "cancelled",
    "cancelled in Temporal",
    "workflow cancelled in Temporal",
    "workflow terminated in Temporal",
)
# A bare reason older than this is some earlier cancellation, not this fire's doing.
_RECENT = timedelta(minutes=10)


def replacement_message(policy: OverlapPolicy, run_id: int, fired_at: datetime) -> str:
    moment = fired_at.isoformat().replace("+00:00", "Z")
    return (
        f"{REPLACING[policy]} by overlap policy {policy.value}: "
        f"replaced by run {run_id} (the fire of {moment})"
    )


async def settle_replaced(
    session: AsyncSession, task_id: int, run_id: int, scheduled_at: datetime, policy: OverlapPolicy
) -> int | None:
    """End the schedule run that the fire ``run_id`` replaced; its id, or None if there was none."""
    if policy not in REPLACING:
        return None
    previous = (
        await session.execute(
            select(_RUNS.c.id, _RUNS.c.status, _RUNS.c.error_message, _RUNS.c.completed_at)
            .where(
                _RUNS.c.task_id == task_id,
                _RUNS.c.id != run_id,
                _RUNS.c.trigger != RunTrigger.MANUAL.value,
                _RUNS.c.scheduled_at < scheduled_at,
            )
            .order_by(_RUNS.c.scheduled_at.desc())
            .limit(1)
        )
    ).one_or_none()
    if previous is None:
        return None
    now = utcnow()
    message = replacement_message(policy, run_id, scheduled_at)
    if RunStatus(previous.status) in OPEN_STATUSES:
        values: dict[str, object] = {
            "status": RunStatus.FAILED,
            "completed_at": now,
            "error_message": message,
        }
        guard = _RUNS.c.status.in_([status.value for status in OPEN_STATUSES])
    elif (
        previous.status == RunStatus.FAILED
        and previous.error_message in _BARE_REASONS
        and previous.completed_at is not None
        and previous.completed_at >= now - _RECENT
    ):
        values = {"error_message": message}
        guard = _RUNS.c.error_message.in_(_BARE_REASONS)
    else:
        return None
    await session.execute(
        update(_RUNS).where(_RUNS.c.id == previous.id, guard).values({**values, "updated_at": now})
    )
    return int(previous.id)
