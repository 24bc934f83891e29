"""Queries over task definitions and their dependency edges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, String, cast, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.schedule_policy import DstPolicy, OverlapPolicy
from domain.tasks import OWN_FIELDS, ScheduledTask, TaskDefinition
from persistence import runs, status_history
from persistence.models import Task, TaskDependency

# Any fixed number other than the migrations' lock: it names the Postgres
# advisory lock that lets one apply at a time through.
_APPLY_LOCK_ID = 7_233_020


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_tasks(
    session: AsyncSession,
    *,
    status: str | None,
    name: str | None,
    task_type: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Task], int]:
    """One page of tasks by id ascending, and the total that match the filters.

    ``name`` is a case-insensitive substring with ``%`` and ``_`` taken literally.
    """
    conditions = []
    if status is not None:
        conditions.append(Task.status == status)
    if task_type is not None:
        conditions.append(Task.task_type == task_type)
    if name:
        pattern = f"%{_escape_like(name.lower())}%"
        conditions.append(func.lower(Task.name).like(pattern, escape="\\"))
    total = await session.scalar(select(func.count()).select_from(Task).where(*conditions))
    rows = await session.scalars(
        select(Task).where(*conditions).order_by(Task.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def matching_ids(
    session: AsyncSession,
    *,
    ids: Sequence[int] | None,
    name: str | None,
    task_type: str | None,
) -> list[int]:
    """Ids (ascending) of the tasks matching every selector given; ``name`` as in ``list_tasks``."""
    conditions: list[ColumnElement[bool]] = []
    if ids is not None:
        conditions.append(Task.id.in_(set(ids)))
    if task_type is not None:
        conditions.append(Task.task_type == task_type)
    if name:
        pattern = f"%{_escape_like(name.lower())}%"
        conditions.append(func.lower(Task.name).like(pattern, escape="\\"))
    return list(await session.scalars(select(Task.id).where(*conditions).order_by(Task.id)))


async def get_task(session: AsyncSession, task_id: int, *, for_update: bool = False) -> Task | None:
    return await session.get(Task, task_id, with_for_update=for_update or None)


async def name_taken(session: AsyncSession, name: str, except_id: int | None = None) -> bool:
    query = select(Task.id).where(Task.name == name)
    if except_id is not None:
        query = query.where(Task.id != except_id)
    return (await session.scalar(query.limit(1))) is not None


async def missing_task_ids(session: AsyncSession, ids: Iterable[int]) -> list[int]:
    """Those of ``ids`` that name no task, in ascending order."""
    wanted = set(ids)
    if not wanted:
        return []
    found = set(await session.scalars(select(Task.id).where(Task.id.in_(wanted))))
    return sorted(wanted - found)


async def dependencies_of(session: AsyncSession, task_ids: Sequence[int]) -> dict[int, list[int]]:
    """Each task's dependency ids, ascending (tasks without any map to ``[]``)."""
    result: dict[int, list[int]] = defaultdict(list)
    if task_ids:
        rows = await session.execute(
            select(TaskDependency.task_id, TaskDependency.depends_on_id)
            .where(TaskDependency.task_id.in_(task_ids))
            .order_by(TaskDependency.task_id, TaskDependency.depends_on_id)
        )
        for task_id, depends_on_id in rows:
            result[task_id].append(depends_on_id)
    return {task_id: result.get(task_id, []) for task_id in task_ids}


def dependency_list(aggregate: str | None) -> list[int]:
    """Dependency ids, ascending, from the comma-separated aggregate of
    ``dependency_ids_of`` (None when there are none)."""
    return sorted(int(dep) for dep in aggregate.split(",")) if aggregate else []


def dependency_ids_of(
    task_id: ColumnElement[int] | InstrumentedAttribute[int],
) -> ScalarSelect[Any]:
    """A scalar subquery: ``task_id``'s dependency ids as one comma-separated string.

    Aggregated, so a statement reads a task and its edges in one round trip on
    both backends; ``dependency_list`` turns it back into ids.
    """
    return (
        select(func.aggregate_strings(cast(TaskDependency.depends_on_id, String), ","))
        .where(TaskDependency.task_id == task_id)
        .scalar_subquery()
    )


async def get_task_with_dependencies(
    session: AsyncSession, task_id: int
) -> tuple[Task, list[int]] | None:
    """The task and its dependency ids (ascending) in one statement; None when it is gone."""
    row = (
        await session.execute(select(Task, dependency_ids_of(Task.id)).where(Task.id == task_id))
    ).one_or_none()
    return None if row is None else (row[0], dependency_list(row[1]))


async def set_dependencies(session: AsyncSession, task_id: int, depends_on: Iterable[int]) -> None:
    await session.execute(delete(TaskDependency).where(TaskDependency.task_id == task_id))
    session.add_all(
        TaskDependency(task_id=task_id, depends_on_id=dep) for dep in sorted(set(depends_on))
    )
    await session.flush()


async def would_cycle(session: AsyncSession, task_id: int, depends_on: Iterable[int]) -> bool:
    """True when making ``task_id`` depend on ``depends_on`` closes a cycle.

    A cycle exists when ``task_id`` is among the new dependencies or reachable
    from them along existing edges (one recursive query, however deep).
    """
    start = set(depends_on)
    if not start:
        return False
    if task_id in start:
        return True
    # Seeds are existing tasks: unknown ids were refused before this is asked.
    reach = select(Task.id.label("id")).where(Task.id.in_(start)).cte("reach", recursive=True)
    reach = reach.union(
        select(TaskDependency.depends_on_id).join(reach, TaskDependency.task_id == reach.c.id)
    )
    found = await session.scalar(select(reach.c.id).where(reach.c.id == task_id).limit(1))
    return found is not None


async def dependent_ids(session: AsyncSession, task_id: int) -> list[int]:
    """Tasks that depend on ``task_id``."""
    rows = await session.scalars(
        select(TaskDependency.task_id)
        .where(TaskDependency.depends_on_id == task_id)
        .order_by(TaskDependency.task_id)
    )
    return list(rows)


async def dependents_named(session: AsyncSession, task_id: int) -> list[tuple[int, str]]:
    """The tasks that depend on ``task_id``, as ``(id, name)`` by id."""
    rows = await session.execute(
        select(Task.id, Task.name)
        .join(TaskDependency, TaskDependency.task_id == Task.id)
        .where(TaskDependency.depends_on_id == task_id)
        .order_by(Task.id)
    )
    return [(int(task), str(name)) for task, name in rows]


def definition_of(task: object, dependencies: list[int]) -> TaskDefinition:
    """The definition a ``Task`` (or a row read with the same attribute names) holds."""
    own = {name: getattr(task, name) for name in OWN_FIELDS}
    own["notifications"] = own["notifications"] or []
    return TaskDefinition(dependencies=dependencies, **own)


def new_task(definition: TaskDefinition, now: datetime) -> Task:
    """A task row holding ``definition`` (its dependency edges are written separately)."""
    return Task(**definition.own_fields(), created_at=now, updated_at=now)


def write_definition(task: Task, definition: TaskDefinition, now: datetime) -> None:
    """Make the row hold ``definition`` (its dependency edges are written separately)."""
    for name, value in definition.own_fields().items():
        setattr(task, name, value)
    task.updated_at = now


def schedule_spec(task: Task) -> ScheduledTask:
    """What the task's Temporal schedule is built from."""
    return ScheduledTask(
        id=task.id,
        name=task.name,
        task_type=task.task_type,
        schedule=task.schedule,
        timezone=task.timezone,
        active=task.status == "Active",
        overlap_policy=OverlapPolicy(task.overlap_policy),
        catchup_window_seconds=task.catchup_window_seconds,
        jitter_seconds=task.jitter_seconds,
        dst_policy=DstPolicy(task.dst_policy),
        paused_reason=task.paused_reason,
    )


async def all_tasks(session: AsyncSession) -> list[Task]:
    return list(await session.scalars(select(Task).order_by(Task.id)))


async def all_tasks_for_update(session: AsyncSession) -> list[Task]:
    """Every task by id ascending, each row locked until the transaction ends (Postgres;
    SQLite's writing transactions hold the whole database already)."""
    return list(await session.scalars(select(Task).order_by(Task.id).with_for_update()))


async def all_dependencies(session: AsyncSession) -> dict[int, list[int]]:
    """Every task's dependency ids, ascending; tasks without any are absent."""
    result: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(TaskDependency.task_id, TaskDependency.depends_on_id).order_by(
            TaskDependency.task_id, TaskDependency.depends_on_id
        )
    )
    for task_id, depends_on_id in rows:
        result[task_id].append(depends_on_id)
    return dict(result)


async def serialise_applies(session: AsyncSession) -> None:
    """Make the session's transaction the only apply in progress, until it ends.

    Postgres: a transaction-level advisory lock, taken before anything is
    read, so a second apply plans from what the first committed. SQLite:
    writing sessions begin with ``BEGIN IMMEDIATE``, so the transaction holds
    the database's write lock from its first statement; this statement is it.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _APPLY_LOCK_ID})
    else:
        await session.execute(text("SELECT 1"))


async def remove_task(session: AsyncSession, task: Task) -> list[str]:
    """Delete the task's row, its run history and its own dependency edges; the workflow
    ids of its open runs (for the caller to cancel once committed).

    Edges of other tasks onto it are refused by the database: check for dependents first.
    """
    open_runs = await runs.open_workflow_ids(session, task.id)
    await runs.delete_runs_of_task(session, task.id)
    await set_dependencies(session, task.id, [])
    await session.delete(task)
    return open_runs


async def record_status_change(
    session: AsyncSession,
    task: Task,
    status: str,
    now: datetime,
    changed_by: str,
    via: str,
) -> None:
    """When ``status`` is not the task's current one, record the change in its history and
    forget why it was paused automatically; the caller writes the new status."""
    if status == task.status:
        return
    await status_history.record(session, task.id, status, now, changed_by, via)
    task.paused_reason = None
