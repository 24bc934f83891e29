"""A run's final mirror write as its workflow makes it: the end recorded, the run's
recorded attempt outcomes dropped, the runs waiting on its task found; one
statement on Postgres."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistence import attempt_outcomes, runs


@dataclass(frozen=True, slots=True)
class Finished:
    task_id: int | None
    """The run's task when this call ended the run; None when it was already final or is gone."""
    waiting: list[str]
    """Workflow ids of the ``Pending`` runs of the tasks that depend on ``dependents_of``."""


async def finish(
    session: AsyncSession, run_id: int, end: runs.RunEnd, dependents_of: int | None
) -> Finished:
    """Record ``end`` once (``runs.finish_run``), forget the run's recorded outcomes
    (no attempt of it is retried now), and list the runs waiting on ``dependents_of``
    (also when the run was already final: a retried call wakes them again)."""
    ending = runs.finish_statement(run_id, end)
    forgetting = attempt_outcomes.forgetting(run_id)
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        task_id = (await session.execute(ending)).scalar_one_or_none()
        await session.execute(forgetting)
        waiting = (
            await runs.waiting_dependent_workflow_ids(session, dependents_of)
            if dependents_of is not None
            else []
        )
        return Finished(task_id, waiting)
    # Data-modifying CTEs run once whether or not the outer query reads them, and
    # the outer query always returns one row, the UPDATE matching or not.
    ended = ending.cte("ended")
    waiting_ids = (
        select(
            func.array_agg(runs.waiting_dependents(dependents_of).subquery().c.workflow_id)
        ).scalar_subquery()
        if dependents_of is not None
        else null()
    )
    statement = select(select(ended.c.task_id).scalar_subquery(), waiting_ids).add_cte(
        forgetting.cte("forgotten")
    )
    row = (await session.execute(statement)).one()
    return Finished(row[0], list(row[1] or []))
