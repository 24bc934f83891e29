"""A run's final mirror write as its workflow makes it: the end recorded, the run's
recorded attempt outcomes dropped, the runs waiting on its task found; one
statement on Postgres."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

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
    ending, params = runs.finish_statement(run_id, end)
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        task_id = (await session.execute(ending, params)).scalar_one_or_none()
        await session.execute(attempt_outcomes.forgetting(run_id))
        waiting = (
            await runs.waiting_dependent_workflow_ids(session, dependents_of)
            if dependents_of is not None
            else []
        )
        return Finished(task_id, waiting)
    params["dependents_of"] = dependents_of
    row = (await session.execute(_in_one(ending, dependents_of is not None), params)).one()
    return Finished(row[0], list(row[1] or []))


@functools.cache
def _in_one(ending: ReturningUpdate[Any], wakes: bool) -> Select[Any]:
    """``finish`` in one statement on Postgres, built once per shape of ``ending``:
    parameters ``run_id`` and (with ``wakes``) ``dependents_of``."""
    # Data-modifying CTEs run once whether or not the outer query reads them, and
    # the outer query always returns one row, the UPDATE matching or not.
    ended = ending.cte("ended")
    waiting_ids = (
        select(
            func.array_agg(
                runs.waiting_dependents(bindparam("dependents_of")).subquery().c.workflow_id
            )
        ).scalar_subquery()
        if wakes
        else null()
    )
    return select(select(ended.c.task_id).scalar_subquery(), waiting_ids).add_cte(
        attempt_outcomes.forgetting(bindparam("run_id")).cte("forgotten")
    )
