"""Queries over task runs: the mirror writes of a run's life and the read model."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.selectable import Select

from domain.statuses import OPEN_STATUSES, TERMINAL_STATUSES, RunStatus, RunTrigger
from domain.tasks import RunDefinition
from persistence import backfills, outbox, tasks
from persistence.conflicts import insert_unless_present
from persistence.models import Task, TaskDependency, TaskRun
from persistence.sqltime import seconds_between
from persistence.types import utcnow

# The writes of a run's life address the table, not the ORM entity: an
# ORM-enabled UPDATE also evaluates its WHERE against the session's loaded
# objects, and an ORM insert goes through the unit of work; either cost about
# twice the CPU of the same statement in Core (mark_running: 2.2 against
# 1.2 ms, measured in-process). The sessions that write runs hold no loaded runs.
_RUNS = TaskRun.metadata.tables[TaskRun.__tablename__]


_NEW_RUN_COLUMNS = (
    "task_id",
    "workflow_id",
    "trigger",
    "triggered_by",
    "status",
    "retry_count",
    "scheduled_at",
    "definition",
    "created_at",
    "updated_at",
)
"""The columns ``_new_run`` gives a value."""


def _new_run(
    task: Task,
    dependencies: list[int],
    *,
    workflow_id: str,
    trigger: Any,
    scheduled_at: datetime,
    triggered_by: Any = None,
) -> dict[str, Any]:
    """The columns of a new ``Pending`` run: the task's definition snapshot, no attempt yet."""
    now = utcnow()
    return {
        "task_id": task.id,
        "workflow_id": workflow_id,
        "trigger": trigger,
        "triggered_by": triggered_by,
        "status": RunStatus.PENDING,
        "retry_count": 0,
        "scheduled_at": scheduled_at,
        "definition": tasks.definition_of(task, dependencies).for_run().to_json(),
        "created_at": now,
        "updated_at": now,
    }


async def create_run(
    session: AsyncSession,
    task: Task,
    dependencies: list[int],
    *,
    workflow_id: str,
    trigger: RunTrigger,
    scheduled_at: datetime,
    triggered_by: str | None = None,
    run_id: int | None = None,
) -> int:
    """Insert a ``Pending`` run row (with ``run_id``, one reserved by
    ``task_for_new_run``) with the task's definition snapshot and return its
    id; the caller commits."""
    values = _new_run(
        task,
        dependencies,
        workflow_id=workflow_id,
        trigger=trigger,
        scheduled_at=scheduled_at,
        triggered_by=triggered_by,
    )
    if run_id is not None:
        values["id"] = run_id
    inserted = await session.execute(insert(_RUNS).values(values).returning(_RUNS.c.id))
    created: int = inserted.scalar_one()
    return created


async def create_run_to_start(
    session: AsyncSession,
    task: Task,
    dependencies: list[int],
    *,
    run_id: int,
    workflow_id: str,
    trigger: RunTrigger,
    scheduled_at: datetime,
    triggered_by: str | None,
    now: datetime,
) -> int:
    """``create_run`` with the id ``task_for_new_run`` reserved, and the run's start
    outbox entry created at ``now`` (``outbox.add_run``), in one statement: both rows
    or neither, also in an autocommit session. Returns the entry's id. Postgres only
    (a data-modifying CTE)."""
    values = _new_run(
        task,
        dependencies,
        workflow_id=workflow_id,
        trigger=trigger,
        scheduled_at=scheduled_at,
        triggered_by=triggered_by,
    )
    values["id"] = run_id
    params = {f"new_{name}": value for name, value in values.items()}
    params["queued_at"] = now
    added = await session.execute(_CREATE_RUN_TO_START, params)
    entry_id: int = added.scalar_one()
    return entry_id


def _creating_run_to_start() -> Insert:
    columns = ("id", *_NEW_RUN_COLUMNS)
    created = (
        insert(_RUNS)
        .values({name: bindparam(f"new_{name}", type_=_RUNS.c[name].type) for name in columns})
        .returning(_RUNS.c.id)
        .cte("created_run")
    )
    entry = outbox.adding_run(
        bindparam("new_task_id", type_=_RUNS.c.task_id.type),
        created.c.id,
        bindparam("queued_at", type_=_RUNS.c.created_at.type),
    )
    return entry.add_cte(created)


# Built once (``_MARK_RUNNING``): every trigger makes this write.
_CREATE_RUN_TO_START = _creating_run_to_start()


@dataclass(frozen=True, slots=True)
class NewRunOf:
    """A task about to get a run: its row, its dependency ids, and the run's id if reserved."""

    task: Task
    dependencies: list[int]
    run_id: int | None
    """Drawn from the runs' sequence on Postgres, so the run is inserted with its
    final workflow id in one statement; None on SQLite (``set_workflow_id`` after)."""
    backlog: bool
    """Outbox entries older than the given time wait for their start (``outbox.backlog_before``)."""


async def task_for_new_run(
    session: AsyncSession, task_id: int, backlog_before: datetime
) -> NewRunOf | None:
    """The task and its dependency ids, whether the start outbox has a backlog, and
    on Postgres a reserved run id, in one statement; None when the task is gone."""
    reserve = session.bind is not None and session.bind.dialect.name == "postgresql"
    row = (
        await session.execute(
            _task_for_new_run(reserve), {"task_id": task_id, "backlog_before": backlog_before}
        )
    ).one_or_none()
    if row is None:
        return None
    return NewRunOf(
        row[0], tasks.dependency_list(row[1]), row[3] if reserve else None, bool(row[2])
    )


@functools.cache
def _task_for_new_run(reserve: bool) -> Select[Any]:
    """``task_for_new_run``'s statement, built once (``_MARK_RUNNING``)."""
    columns: list[Any] = [
        Task,
        tasks.dependency_ids_of(Task.id),
        outbox.waiting_since(bindparam("backlog_before", type_=_RUNS.c.created_at.type)),
    ]
    if reserve:
        sequence = func.pg_get_serial_sequence(_RUNS.name, _RUNS.c.id.name)
        columns.append(func.nextval(sequence))
    return select(*columns).where(Task.id == bindparam("task_id"))


async def set_workflow_id(session: AsyncSession, run_id: int, workflow_id: str) -> None:
    """Name the workflow that will execute a run created moments ago; the caller commits."""
    await session.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(workflow_id=workflow_id))


async def delete_run(session: AsyncSession, run_id: int) -> None:
    """Remove a run whose workflow could not be started; the caller commits."""
    await session.execute(delete(_RUNS).where(_RUNS.c.id == run_id))


@dataclass(frozen=True, slots=True)
class RunStart:
    """What starting a run's workflow needs of its row."""

    id: int
    task_id: int
    status: str
    stored_definition: dict[str, Any]
    dispatched_at: datetime | None
    dispatched_now: bool = False
    """This call moved the run from ``Pending`` to ``Dispatched``."""
    created_now: bool = False
    """This call created the row (a schedule fire's first begin)."""
    overlap_policy: str = "skip"
    """The task's overlap policy when the row was created (schedule fires only)."""

    @property
    def definition(self) -> RunDefinition:
        """The definition snapshot the run executes."""
        return RunDefinition.from_json(self.stored_definition)


_START = (_RUNS.c.id, _RUNS.c.task_id, _RUNS.c.status, _RUNS.c.definition, _RUNS.c.dispatched_at)


async def begin_scheduled_run(
    session: AsyncSession,
    task_id: int,
    workflow_id: str,
    temporal_run_id: str,
    scheduled_at: datetime,
) -> RunStart | None:
    """The run row of a schedule fire, created once however often this is called.

    A run without dependencies has nothing to wait for and is created
    ``Dispatched``. A fire time inside a recorded backfill of the task makes a
    ``backfill`` run, attributed to whoever asked for it; any other is a
    ``schedule`` run. None when the task no longer exists. Every statement stands
    on its own (the insert skips a row a concurrent or earlier call created),
    so this needs no transaction.
    """
    found = await tasks.get_task_with_dependencies(session, task_id)
    if found is None:
        return None
    task, dependencies = found
    values = _new_run(
        task,
        dependencies,
        workflow_id=workflow_id,
        trigger=case(
            (backfills.is_backfilled(task_id, scheduled_at), RunTrigger.BACKFILL.value),
            else_=RunTrigger.SCHEDULE.value,
        ),
        scheduled_at=scheduled_at,
        triggered_by=backfills.backfilled_by(task_id, scheduled_at),
    )
    values["temporal_run_id"] = temporal_run_id
    dispatch = not dependencies
    if dispatch:
        values["status"] = RunStatus.DISPATCHED
        values["dispatched_at"] = values["created_at"]
    created = (
        await session.execute(insert_unless_present(session, _RUNS, values).returning(*_START))
    ).one_or_none()
    if created is not None:
        return replace(
            RunStart(*created),
            dispatched_now=dispatch,
            created_now=True,
            overlap_policy=task.overlap_policy,
        )
    # An earlier call for this fire created the row (its result was lost).
    existing = (
        await session.execute(select(*_START).where(_RUNS.c.workflow_id == workflow_id))
    ).one()
    return RunStart(*existing)


def _without_dependencies() -> ColumnElement[bool]:
    # Read from the run's own definition snapshot, not the task's live edges.
    listed = func.json_array_length(_RUNS.c.definition["dependencies"])
    return func.coalesce(listed, 0) == 0


def _attaching() -> ReturningUpdate[Any]:
    first = _RUNS.c.temporal_run_id.is_(None)
    dispatch = and_(_RUNS.c.status == RunStatus.PENDING, _without_dependencies())
    now = bindparam("attach_now", type_=_RUNS.c.updated_at.type)
    return (
        update(_RUNS)
        .where(_RUNS.c.id == bindparam("run_id"))
        .values(
            temporal_run_id=case(
                (first, bindparam("attach_temporal_run_id", type_=_RUNS.c.temporal_run_id.type)),
                else_=_RUNS.c.temporal_run_id,
            ),
            status=case((dispatch, RunStatus.DISPATCHED), else_=_RUNS.c.status),
            dispatched_at=case((dispatch, now), else_=_RUNS.c.dispatched_at),
            updated_at=case((or_(first, dispatch), now), else_=_RUNS.c.updated_at),
        )
        .returning(*_START)
    )


# Built once (``_MARK_RUNNING``): the first statement of every triggered run.
_ATTACH = _attaching()


async def attach_workflow_run(
    session: AsyncSession, run_id: int, temporal_run_id: str
) -> RunStart | None:
    """Record the first workflow run that took this run (a later one does not
    replace it), and dispatch the run if it is ``Pending`` with no dependencies.

    One statement that also reads the row back; None when the run no longer exists.
    """
    now = utcnow()
    attached = await session.execute(
        _ATTACH, {"run_id": run_id, "attach_temporal_run_id": temporal_run_id, "attach_now": now}
    )
    row = attached.one_or_none()
    if row is None:
        return None
    start = RunStart(*row)
    # Every SET expression reads the row as it was, so only this call wrote ``now``.
    return replace(start, dispatched_now=start.dispatched_at == now)


async def mark_dispatched(session: AsyncSession, run_id: int) -> int | None:
    """``Pending`` → ``Dispatched``; never moves a run backwards.

    Returns the run's task id when this call moved it, None when it was not ``Pending``.
    """
    now = utcnow()
    moved = await session.execute(
        update(_RUNS)
        .where(_RUNS.c.id == run_id, _RUNS.c.status == RunStatus.PENDING)
        .values(status=RunStatus.DISPATCHED, dispatched_at=now, updated_at=now)
        .returning(_RUNS.c.task_id)
    )
    task_id: int | None = moved.scalar_one_or_none()
    return task_id


# Built once, as ``_RUN_ROW`` is: every attempt makes this write, and building the
# statement (and its cache key) cost about as much CPU as executing it.
_MARK_RUNNING = (
    update(_RUNS)
    .where(
        _RUNS.c.id == bindparam("run_id"),
        _RUNS.c.status.in_(list(OPEN_STATUSES)),
        or_(
            _RUNS.c.status != RunStatus.RUNNING,
            _RUNS.c.retry_count <= bindparam("attempt_retry_count"),
        ),
    )
    .values(
        status=RunStatus.RUNNING,
        worker_id=bindparam("attempt_worker_id"),
        retry_count=bindparam("attempt_retry_count"),
        started_at=bindparam("attempt_started_at", type_=_RUNS.c.started_at.type),
        updated_at=bindparam("attempt_updated_at", type_=_RUNS.c.updated_at.type),
    )
)


async def mark_running(
    session: AsyncSession, run_id: int, worker_id: str, retry_count: int, started_at: datetime
) -> None:
    """An attempt started on a worker; a later attempt's report wins, a stale one is ignored."""
    await session.execute(
        _MARK_RUNNING,
        {
            "run_id": run_id,
            "attempt_worker_id": worker_id,
            "attempt_retry_count": retry_count,
            "attempt_started_at": started_at,
            "attempt_updated_at": utcnow(),
        },
    )


@dataclass(frozen=True)
class RunEnd:
    status: RunStatus
    completed_at: datetime
    result: str | None = None
    error_message: str | None = None
    worker_id: str | None = None
    retry_count: int | None = None
    started_at: datetime | None = None
    execution_duration_ms: int | None = None


def storable_text(text: str | None) -> str | None:
    """``text`` with each NUL replaced by U+FFFD, which both backends store alike.

    Postgres refuses NUL in text columns; a task's output may well hold one, and
    a refused write would leave the run open while Temporal retries it forever.
    """
    return text.replace("\x00", "\ufffd") if text is not None else None


async def finish_run(session: AsyncSession, run_id: int, end: RunEnd) -> int | None:
    """Record the final state once, in one statement.

    Returns the run's task id, or None when the run was already final or is gone.
    """
    statement, params = finish_statement(run_id, end)
    task_id: int | None = (await session.execute(statement, params)).scalar_one_or_none()
    return task_id


def finish_statement(run_id: int, end: RunEnd) -> tuple[ReturningUpdate[Any], dict[str, Any]]:
    """The ``UPDATE`` of ``finish_run`` (it returns the task id when it ended the run)
    and its parameters; the run's id is the parameter ``run_id``.

    The statement depends only on which of ``end``'s fields are given, and is
    built once for each such shape: every run makes this write, and building
    it cost about as much CPU as executing it.
    """
    params: dict[str, Any] = {
        "run_id": run_id,
        "end_status": end.status,
        "end_completed_at": end.completed_at,
        "end_result": storable_text(end.result),
        "end_error_message": storable_text(end.error_message),
        "end_updated_at": utcnow(),
        "end_worker_id": end.worker_id,
        "end_retry_count": end.retry_count,
        "end_started_at": end.started_at,
    }
    duration: int | None = end.execution_duration_ms
    if duration is None and end.started_at is not None:
        elapsed = end.completed_at - end.started_at
        duration = max(0, int(elapsed.total_seconds() * 1000))
    params["end_duration_ms"] = duration
    statement = _finishing(
        end.worker_id is not None,
        end.retry_count is not None,
        end.started_at is not None,
        duration is not None,
    )
    return statement, params


@functools.cache
def _finishing(
    worker: bool, retry_count: bool, started_at: bool, duration: bool
) -> ReturningUpdate[Any]:
    """``finish_statement``'s ``UPDATE`` for the fields given."""
    completed_at = bindparam("end_completed_at", type_=_RUNS.c.completed_at.type)
    values: dict[str, Any] = {
        "status": bindparam("end_status", type_=_RUNS.c.status.type),
        "completed_at": completed_at,
        "result": bindparam("end_result", type_=_RUNS.c.result.type),
        "error_message": bindparam("end_error_message", type_=_RUNS.c.error_message.type),
        "updated_at": bindparam("end_updated_at", type_=_RUNS.c.updated_at.type),
    }
    if worker:
        values["worker_id"] = bindparam("end_worker_id", type_=_RUNS.c.worker_id.type)
    if retry_count:
        retries = bindparam("end_retry_count", type_=_RUNS.c.retry_count.type)
        values["retry_count"] = case(
            (_RUNS.c.retry_count < retries, retries), else_=_RUNS.c.retry_count
        )
    if started_at:
        values["started_at"] = bindparam("end_started_at", type_=_RUNS.c.started_at.type)
    if duration:
        values["execution_duration_ms"] = bindparam(
            "end_duration_ms", type_=_RUNS.c.execution_duration_ms.type
        )
    else:
        # From the start the executor recorded (the run may never have started).
        # Rounded: SQLite's julianday() arithmetic lands a hair under whole milliseconds.
        elapsed_ms = cast(
            func.round(seconds_between(completed_at, _RUNS.c.started_at) * 1000),
            BigInteger,
        )
        values["execution_duration_ms"] = case(
            (_RUNS.c.started_at.is_(None), None), (elapsed_ms < 0, 0), else_=elapsed_ms
        )
    return (
        update(_RUNS)
        .where(
            _RUNS.c.id == bindparam("run_id"),
            _RUNS.c.status.not_in(list(TERMINAL_STATUSES)),
        )
        .values(values)
        .returning(_RUNS.c.task_id)
    )


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run as its API view shows it; a ``TaskRun`` has the same attributes."""

    id: int
    task_id: int
    status: str
    worker_id: str | None
    retry_count: int
    scheduled_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    result: str | None
    error_message: str | None
    execution_duration_ms: int | None
    created_at: datetime
    trigger: str
    triggered_by: str | None
    workflow_id: str
    temporal_run_id: str | None
    dispatched_at: datetime | None


RUN_FIELDS = tuple(field.name for field in fields(RunRow))
"""The run columns a run's API view shows (not its definition snapshot)."""


async def get_run(session: AsyncSession, run_id: int) -> TaskRun | None:
    return await session.get(TaskRun, run_id)


# Built once: SQLAlchemy keys its compiled-statement cache by the statement,
# and building it was a good part of a read this small.
_RUN_ROW = select(*(TaskRun.__table__.c[name] for name in RUN_FIELDS)).where(
    TaskRun.__table__.c.id == bindparam("run_id")
)


async def get_run_row(session: AsyncSession, run_id: int) -> RunRow | None:
    """One run as its view shows it, without the definition snapshot (None: no such run)."""
    row = (await session.execute(_RUN_ROW, {"run_id": run_id})).one_or_none()
    return None if row is None else RunRow(*row)


async def list_runs(
    session: AsyncSession,
    task_id: int,
    status: str | None,
    offset: int,
    limit: int,
    trigger: str | None = None,
) -> tuple[list[RunRow], int]:
    """One page of a task's runs (of one status and trigger when given),
    newest first, and the total that match.

    Only the columns a run's view shows: not the definition snapshot, whose
    JSON was most of the cost of a full page.
    """
    conditions = [TaskRun.task_id == task_id]
    if status is not None:
        conditions.append(TaskRun.status == status)
    if trigger is not None:
        conditions.append(TaskRun.trigger == trigger)
    total = await session.scalar(select(func.count()).select_from(TaskRun).where(*conditions))
    rows = await session.execute(
        select(*(TaskRun.__table__.c[name] for name in RUN_FIELDS))
        .where(*conditions)
        .order_by(TaskRun.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [RunRow(*row) for row in rows], int(total or 0)


async def delete_runs_of_task(session: AsyncSession, task_id: int) -> None:
    await session.execute(delete(TaskRun).where(TaskRun.task_id == task_id))


async def open_workflow_ids(session: AsyncSession, task_id: int) -> list[str]:
    rows = await session.scalars(
        select(TaskRun.workflow_id).where(
            TaskRun.task_id == task_id, TaskRun.status.in_(list(OPEN_STATUSES))
        )
    )
    return list(rows)


@dataclass(frozen=True)
class DependencyState:
    unmet: list[tuple[int, str]]
    deleted: list[int]


async def dependency_state(session: AsyncSession, run_id: int) -> DependencyState:
    """Which of a run's dependencies are not satisfied yet.

    Dependency D is satisfied when D has a ``Completed`` run that finished
    after the ``scheduled_at`` of this task's previous run (for the task's
    first run: any ``Completed`` run of D).
    """
    run = await session.get(TaskRun, run_id)
    if run is None:
        return DependencyState(unmet=[], deleted=[])
    wanted = RunDefinition.from_json(run.definition).dependencies
    if not wanted:
        return DependencyState(unmet=[], deleted=[])
    previous = await session.scalar(
        select(TaskRun.scheduled_at)
        .where(TaskRun.task_id == run.task_id, TaskRun.id < run.id)
        .order_by(TaskRun.id.desc())
        .limit(1)
    )
    rows = await session.execute(select(Task.id, Task.name).where(Task.id.in_(wanted)))
    # Not dict(rows): a Result has .keys() (its column names) and passes for a mapping.
    names = {task_id: name for task_id, name in rows}  # noqa: C416
    completed = select(TaskRun.task_id).where(
        TaskRun.task_id.in_(wanted), TaskRun.status == RunStatus.COMPLETED
    )
    if previous is not None:
        completed = completed.where(TaskRun.completed_at > previous)
    satisfied = set(await session.scalars(completed.distinct()))
    return DependencyState(
        unmet=[(dep, names[dep]) for dep in wanted if dep in names and dep not in satisfied],
        deleted=[dep for dep in wanted if dep not in names],
    )


async def waiting_dependent_workflow_ids(session: AsyncSession, task_id: int) -> list[str]:
    """Workflows of ``Pending`` runs of the tasks that depend on ``task_id``.

    In Core, as the mirror writes are: it follows every completed run.
    """
    return list(await session.scalars(waiting_dependents(task_id)))


def waiting_dependents(task_id: int | ColumnElement[int]) -> Select[tuple[str]]:
    """The query of ``waiting_dependent_workflow_ids``."""
    edges = TaskDependency.metadata.tables[TaskDependency.__tablename__]
    return (
        select(_RUNS.c.workflow_id)
        .join(edges, edges.c.task_id == _RUNS.c.task_id)
        .where(edges.c.depends_on_id == task_id, _RUNS.c.status == RunStatus.PENDING)
    )


async def open_runs_older_than(
    session: AsyncSession, before: datetime, after_id: int, limit: int
) -> list[tuple[int, str]]:
    """``(id, workflow_id)`` of open runs not touched since ``before``, by id after ``after_id``.

    A run whose start still waits in the outbox is not among them: its
    workflow does not exist yet, and that is no reason to settle it.
    """
    rows = await session.execute(
        select(TaskRun.id, TaskRun.workflow_id)
        .where(
            TaskRun.status.in_(list(OPEN_STATUSES)),
            TaskRun.updated_at < before,
            TaskRun.id > after_id,
            ~outbox.is_unstarted(TaskRun.id),
        )
        .order_by(TaskRun.id)
        .limit(limit)
    )
    return [(run_id, workflow_id) for run_id, workflow_id in rows]


async def purge_finished_before(session: AsyncSession, before: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` finished runs completed before ``before``; returns how many.

    One bounded batch per call and per transaction, so the purge never holds
    locks long enough to stall the API.
    """
    ids = list(
        await session.scalars(
            select(TaskRun.id)
            .where(
                TaskRun.status.in_([s.value for s in TERMINAL_STATUSES]),
                TaskRun.completed_at < before,
            )
            .limit(batch_size)
        )
    )
    if ids:
        await session.execute(delete(TaskRun).where(TaskRun.id.in_(ids)))
    return len(ids)
