"""Task use cases: every write keeps the DB row and the Temporal schedule in one unit.

The unit is: open the transaction, write the rows, change the schedule,
commit. If Temporal refuses, the transaction rolls back; if the commit fails
after the schedule changed, the schedule change is undone. The reconciler
repairs what a crash between the two leaves behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError, ErrorCode, run_not_found, task_not_found, validation_error
from api.schedules.preview import fires_between
from api.schedules.rules import check_aware, invalid_schedule
from api.schedules.schemas import BackfillIn
from api.tasks.definition_rules import canonical_fields
from api.tasks.references import missing_references
from api.tasks.schemas import BulkFailure, BulkStatusOut, TaskPatch, TaskSelector, TaskWrite
from domain.schedule_policy import OverlapPolicy
from domain.statuses import RunStatus, RunTrigger, TaskStatus
from domain.tasks import TaskDefinition
from persistence import (
    backfills,
    idempotency,
    outbox,
    runs,
    status_history,
    tasks,
)
from persistence.database import autocommit_sessions
from persistence.models import Task, TaskRun
from settings import Settings
from workflows.run_starts import RunStarter, RunToStart
from workflows.schedules import ScheduleManager, manual_workflow_id
from workflows.task_run import TaskRunWorkflow

log = logging.getLogger(__name__)


class TaskService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        schedules: ScheduleManager,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._autocommit = autocommit_sessions(sessions)
        self._client = client
        self._schedules = schedules
        self._settings = settings
        self._starter = RunStarter(client, settings.orchestrator_queue)

    # -- validation -------------------------------------------------------

    def _validate_definition(self, body: TaskWrite) -> TaskDefinition:
        """Field rules beyond the schema (422 on the first broken one); the definition in
        canonical form."""
        fields, problems = canonical_fields(body, self._settings.parameter_rules)
        if problems:
            raise problems[0]
        return TaskDefinition(**{**fields, "dependencies": sorted(set(body.dependencies))})

    async def _check_name(self, session: AsyncSession, name: str, task_id: int | None) -> None:
        if await tasks.name_taken(session, name, except_id=task_id):
            raise ApiError(
                409,
                ErrorCode.DUPLICATE_TASK_NAME,
                f"A task named {name!r} already exists",
                {"field": "name"},
            )

    async def _check_references(self, session: AsyncSession, definition: TaskDefinition) -> None:
        """Every secret and notification channel the task references exists; else 422
        naming the first bad field."""
        (problems,) = await missing_references(
            session, [(definition.parameters, definition.notifications)]
        )
        if problems:
            raise problems[0]

    async def _check_dependencies(
        self, session: AsyncSession, task_id: int | None, dependencies: list[int]
    ) -> None:
        if task_id is not None and task_id in dependencies:
            raise ApiError(
                422,
                ErrorCode.DEPENDENCY_CYCLE,
                f"Task {task_id} cannot depend on itself",
                {"field": "dependencies", "cycle": [task_id, task_id]},
            )
        missing = await tasks.missing_task_ids(session, dependencies)
        if missing:
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                f"dependencies: unknown task ids {missing}",
                {"field": "dependencies", "missing": missing},
            )
        if task_id is not None and await tasks.would_cycle(session, task_id, dependencies):
            raise ApiError(
                422,
                ErrorCode.DEPENDENCY_CYCLE,
                f"Making task {task_id} depend on {dependencies} would create a cycle",
                {"field": "dependencies"},
            )

    # -- the unit of DB write + schedule change ----------------------------

    def _crash_point(self, name: str) -> None:
        """Die here, like a killed process, when the fault-injection setting names this point.

        Only the fault tests set it; it proves the reconciler repairs a crash
        between the two halves of the unit.
        """
        if self._settings.fault_injection == name:
            log.critical("fault injection: crashing at %s", name)
            os._exit(70)

    async def _sync_schedule(self, action: Callable[[], Awaitable[None]]) -> None:
        try:
            await action()
        except RPCError as err:
            if err.status == RPCStatusCode.INVALID_ARGUMENT:
                raise invalid_schedule(f"Temporal refused it: {err.message}") from err
            raise

    async def _commit_or_undo(
        self, session: AsyncSession, undo: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await session.commit()
        except Exception:
            log.exception("commit failed after the schedule changed; undoing the schedule change")
            try:
                await undo()
            except Exception:
                log.exception("undo failed; the reconciler will repair the schedule")
            raise

    # -- use cases ----------------------------------------------------------

    async def create(self, body: TaskWrite, changed_by: str) -> tuple[Task, list[int]]:
        definition = self._validate_definition(body)
        async with self._sessions() as session:
            await self._check_name(session, definition.name, None)
            await self._check_references(session, definition)
            await self._check_dependencies(session, None, definition.dependencies)
            now = datetime.now(UTC)
            task = tasks.new_task(definition, now)
            session.add(task)
            await self._flush_unique(session, task.name)
            await tasks.set_dependencies(session, task.id, definition.dependencies)
            await status_history.record(session, task.id, task.status, now, changed_by, "create")
            self._crash_point("create:after-row")
            spec = tasks.schedule_spec(task)
            await self._sync_schedule(lambda: self._schedules.upsert(spec))
            self._crash_point("create:after-schedule")
            await self._commit_or_undo(session, lambda: self._schedules.delete(spec.id))
            return task, definition.dependencies

    async def _flush_unique(self, session: AsyncSession, name: str) -> None:
        try:
            await session.flush()
        except IntegrityError as exc:
            # Lost a race with a concurrent create of the same name.
            raise ApiError(
                409, ErrorCode.DUPLICATE_TASK_NAME, f"A task named {name!r} already exists"
            ) from exc

    async def replace(
        self, task_id: int, body: TaskWrite, changed_by: str
    ) -> tuple[Task, list[int]]:
        definition = self._validate_definition(body)
        return await self._update(task_id, lambda _current: definition, changed_by, "replace")

    async def patch(
        self, task_id: int, patch: TaskPatch, changed_by: str
    ) -> tuple[Task, list[int]]:
        def merge(current: TaskDefinition) -> TaskDefinition:
            changes = {
                field: value
                for field in patch.__struct_fields__
                if (value := getattr(patch, field)) is not msgspec.UNSET
            }
            merged = TaskWrite(**{**dataclasses.asdict(current), **changes})
            return self._validate_definition(merged)

        return await self._update(task_id, merge, changed_by, "patch")

    async def _update(
        self,
        task_id: int,
        new_definition: Callable[[TaskDefinition], TaskDefinition],
        changed_by: str,
        via: str,
    ) -> tuple[Task, list[int]]:
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id, for_update=True)
            if task is None:
                raise task_not_found(task_id)
            before = tasks.schedule_spec(task)
            current_deps = (await tasks.dependencies_of(session, [task_id]))[task_id]
            definition = new_definition(tasks.definition_of(task, current_deps))
            await self._check_name(session, definition.name, task_id)
            await self._check_references(session, definition)
            await self._check_dependencies(session, task_id, definition.dependencies)
            now = datetime.now(UTC)
            await tasks.record_status_change(session, task, definition.status, now, changed_by, via)
            tasks.write_definition(task, definition, now)
            await self._flush_unique(session, task.name)
            if definition.dependencies != current_deps:
                await tasks.set_dependencies(session, task_id, definition.dependencies)
            after = tasks.schedule_spec(task)
            if after != before:
                await self._sync_schedule(lambda: self._schedules.upsert(after))
            await self._commit_or_undo(session, lambda: self._schedules.upsert(before))
            return task, definition.dependencies

    async def set_status_of_matching(
        self, selector: TaskSelector, status: TaskStatus, changed_by: str
    ) -> BulkStatusOut:
        """Give every task matching ``selector`` this status, each task in its own unit.

        Each task's row and schedule change together or not at all: a task
        whose schedule cannot be updated keeps its row and is reported in
        ``failed``, and the others still change. Tasks already in ``status``
        are left alone. Ids that name no task are reported as failed.
        """
        if selector.ids is None and selector.name is None and selector.task_type is None:
            raise ApiError(
                422,
                ErrorCode.VALIDATION_ERROR,
                "Give at least one selector: ids, name or task_type",
                {"field": "ids", "selectors": ["ids", "name", "task_type"]},
            )
        async with self._sessions() as session:
            matched = await tasks.matching_ids(
                session, ids=selector.ids, name=selector.name, task_type=selector.task_type
            )
            unknown = await tasks.missing_task_ids(session, selector.ids or [])
        failed = [
            BulkFailure(id=task_id, error=f"Task with ID {task_id} not found")
            for task_id in unknown
        ]
        changed = []
        for task_id in matched:
            try:
                if await self._set_status(task_id, status, changed_by):
                    changed.append(task_id)
            except ApiError as exc:
                failed.append(BulkFailure(id=task_id, error=exc.message))
            except RPCError as exc:
                failed.append(
                    BulkFailure(id=task_id, error=f"Temporal refused the schedule: {exc.message}")
                )
            except (SQLAlchemyError, OSError, RuntimeError) as exc:
                log.warning("could not set task %s %s: %s", task_id, status, exc)
                failed.append(BulkFailure(id=task_id, error=f"{type(exc).__name__}: {exc}"))
        return BulkStatusOut(
            changed=len(changed), ids=changed, failed=sorted(failed, key=lambda f: f.id)
        )

    async def _set_status(self, task_id: int, status: TaskStatus, changed_by: str) -> bool:
        """One task's status and schedule in one unit; False when it already had ``status``."""
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id, for_update=True)
            if task is None:
                raise task_not_found(task_id)
            if task.status == status:
                return False
            before = tasks.schedule_spec(task)
            now = datetime.now(UTC)
            task.status = status
            task.paused_reason = None
            task.updated_at = now
            await status_history.record(session, task_id, status, now, changed_by, "bulk")
            await session.flush()
            after = tasks.schedule_spec(task)
            await self._sync_schedule(lambda: self._schedules.set_paused(after))
            await self._commit_or_undo(session, lambda: self._schedules.set_paused(before))
            return True

    async def delete(self, task_id: int) -> None:
        """Delete the task, its schedule and its run history; cancel its open runs."""
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id, for_update=True)
            if task is None:
                raise task_not_found(task_id)
            dependents = await tasks.dependent_ids(session, task_id)
            if dependents:
                raise ApiError(
                    409,
                    ErrorCode.TASK_HAS_DEPENDENTS,
                    f"Task {task_id} cannot be deleted: tasks {dependents} depend on it",
                    {"dependents": dependents},
                )
            before = tasks.schedule_spec(task)
            open_runs = await tasks.remove_task(session, task)
            await session.flush()
            await self._sync_schedule(lambda: self._schedules.delete(task_id))
            await self._commit_or_undo(session, lambda: self._schedules.upsert(before))
        await cancel_workflows(self._client, open_runs)

    async def trigger(
        self, task_id: int, triggered_by: str, idempotency_key: str | None = None
    ) -> Triggered:
        """Commit the run row (attributed to ``triggered_by``) with its outbox entry,
        then start its workflow at once if Temporal answers in time.

        Once committed the trigger is accepted: a start that fails or does not
        come (Temporal unreachable, this process killed) is made by the
        orchestrator's outbox relay, and the run waits ``Pending`` until then.
        With an ``idempotency_key`` that already made a run of this task within
        the replay window, nothing is created or started: that run is answered
        (``replayed``); one that made a run of another task is a 409.
        """
        for _ in range(_CLAIM_ATTEMPTS):
            # Without a key, on Postgres, the trigger writes in one statement, which
            # commits on its own: its BEGIN and COMMIT round trips are saved. The
            # several statements of the other branch below then run only with a key
            # (a transaction) or on SQLite, whose autocommit sessions are transactions.
            sessions = self._sessions if idempotency_key is not None else self._autocommit
            async with sessions() as session:
                now = datetime.now(UTC)
                found = await runs.task_for_new_run(session, task_id, self._backlog_before(now))
                if found is None:
                    raise task_not_found(task_id)
                task = found.task
                reserved = found.run_id
                if reserved is not None and idempotency_key is None:
                    run_id = reserved
                    workflow_id = manual_workflow_id(task_id, run_id)
                    entry_id = await runs.create_run_to_start(
                        session,
                        task,
                        found.dependencies,
                        run_id=run_id,
                        workflow_id=workflow_id,
                        trigger=RunTrigger.MANUAL,
                        scheduled_at=now,
                        triggered_by=triggered_by,
                        now=now,
                    )
                else:
                    run_id = await runs.create_run(
                        session,
                        task,
                        found.dependencies,
                        workflow_id=(
                            manual_workflow_id(task_id, reserved)
                            if reserved is not None
                            else f"task-{task_id}-manual-pending-{uuid.uuid4().hex}"
                        ),
                        trigger=RunTrigger.MANUAL,
                        scheduled_at=now,
                        triggered_by=triggered_by,
                        run_id=reserved,
                    )
                    workflow_id = manual_workflow_id(task_id, run_id)
                    if reserved is None:
                        await runs.set_workflow_id(session, run_id, workflow_id)
                    if idempotency_key is not None and not await idempotency.claim(
                        session, idempotency_key, task_id, run_id, now
                    ):
                        await session.rollback()
                        earlier = await idempotency.use_of(session, idempotency_key, now)
                        if earlier is None:
                            continue  # the key expired and was purged meanwhile
                        if earlier.task_id != task_id:
                            raise _key_reused(earlier.task_id)
                        return Triggered(earlier.task_run_id, replayed=True)
                    entry_id = await outbox.add_run(session, task_id, run_id, now)
                await session.commit()
            self._crash_point("trigger:after-commit")
            if not found.backlog:
                run = RunToStart(
                    task_id=task.id,
                    task_name=task.name,
                    task_type=task.task_type,
                    task_run_id=run_id,
                    workflow_id=workflow_id,
                    trigger=RunTrigger.MANUAL.value,
                )
                started = await self._start_at_once(
                    entry_id, functools.partial(self._starter.start_run, run)
                )
                if started:
                    # The caller's wait (or answer) need not wait for this write.
                    dropping = asyncio.create_task(self._drop_started(entry_id))
                    return Triggered(run_id, workflow_id=workflow_id, dropping=dropping)
            return Triggered(run_id, workflow_id=workflow_id)
        raise ApiError(
            409,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "The Idempotency-Key is being claimed by concurrent requests; retry",
            {"field": "Idempotency-Key"},
        )

    async def _outbox_backlog(self, session: AsyncSession, now: datetime) -> bool:
        """Entries the relay has to start exist: a new one then waits its turn behind them,
        so a backlog (an outage's) starts in the order it was accepted."""
        return await outbox.backlog_before(session, self._backlog_before(now))

    def _backlog_before(self, now: datetime) -> datetime:
        """Entries created before this are the relay's to start (``_outbox_backlog``)."""
        return now - timedelta(seconds=self._settings.outbox_start_timeout_seconds)

    async def _deliver_at_once(self, entry_id: int, start: Callable[[], Awaitable[object]]) -> None:
        """Make a committed outbox entry's start now and drop the entry; on any failure
        leave it to the relay (the caller has accepted the work either way)."""
        if await self._start_at_once(entry_id, start):
            await self._drop_started(entry_id)

    async def _start_at_once(self, entry_id: int, start: Callable[[], Awaitable[object]]) -> bool:
        """Make a committed outbox entry's start now; False (logged) leaves it to the relay."""
        try:
            async with asyncio.timeout(self._settings.outbox_start_timeout_seconds):
                await start()
        except Exception as exc:
            log.warning(
                "start of outbox entry %s left to the relay: %s: %s",
                entry_id,
                type(exc).__name__,
                exc,
            )
            return False
        return True

    async def _drop_started(self, entry_id: int) -> None:
        """Drop the entry of a start made; should that fail, the relay drops it later."""
        try:
            # One statement on its own: no BEGIN and COMMIT round trips around it.
            async with self._autocommit() as session, session.begin():
                await outbox.remove(session, entry_id)
        except (SQLAlchemyError, OSError) as exc:
            # Started; the relay finds the entry, sees the workflow exists and drops it.
            log.warning("could not drop started outbox entry %s: %s", entry_id, exc)

    async def backfill(
        self, task_id: int, body: BackfillIn, requested_by: str
    ) -> tuple[int, datetime, datetime]:
        """Run the task's fires of ``[start, end]`` now; the number of fires, and the range.

        The backfill is recorded with its outbox entry (and committed) before
        Temporal is asked, so every run it starts finds the record when it
        begins and is marked ``backfill``, and a backfill Temporal could not
        take now is asked of it by the relay later. A fire that already has a
        run is not run again: its workflow id is the fire's, and the run row is
        keyed by it.
        """
        check_aware("start", body.start)
        check_aware("end", body.end)
        start, end = body.start.astimezone(UTC), body.end.astimezone(UTC)
        if start >= end:
            raise validation_error("end", "must be later than start")
        if end > datetime.now(UTC):
            raise validation_error("end", "must not be in the future: a backfill runs past fires")
        limit = self._settings.backfill_max_fires
        async with self._sessions() as session:
            task = await tasks.get_task(session, task_id)
            if task is None:
                raise task_not_found(task_id)
            spec = tasks.schedule_spec(task)
            fires = fires_between(
                spec.schedule, spec.timezone, spec.dst_policy, start, end, limit + 1
            )
            if len(fires) > limit:
                raise ApiError(
                    422,
                    ErrorCode.VALIDATION_ERROR,
                    f"end: the range holds more than {limit} fire times "
                    "(SCHEDULER_BACKFILL_MAX_FIRES); backfill a shorter range",
                    {"field": "end", "max_fires": limit},
                )
            overlap = OverlapPolicy(body.overlap_policy or OverlapPolicy.BUFFER_ALL)
            now = datetime.now(UTC)
            backfill_id = await backfills.record_backfill(
                session, task_id, start, end, requested_by
            )
            entry_id = (
                await outbox.add_backfill(session, task_id, backfill_id, overlap.value, now)
                if fires
                else None
            )
            backlog = await self._outbox_backlog(session, now)
            await session.commit()
        if entry_id is not None and not backlog:
            await self._deliver_at_once(
                entry_id, lambda: self._schedules.backfill(spec, start, end, overlap)
            )
        return len(fires), start, end

    async def cancel_run(self, run_id: int, requested_by: str) -> TaskRun:
        """Ask the run's workflow to stop; the run ends ``Failed`` once its work is killed."""
        async with self._sessions() as session:
            run = await runs.get_run(session, run_id)
        if run is None:
            raise run_not_found(run_id)
        if RunStatus(run.status).is_terminal:
            raise _finished(run)
        try:
            await self._client.get_workflow_handle_for(TaskRunWorkflow.run, run.workflow_id).signal(
                TaskRunWorkflow.cancel_run, requested_by
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            if not await self._cancel_unstarted(run.id, requested_by):
                # The workflow closed meanwhile; the reconciler settles a row left open.
                raise _finished(run) from err
        return run

    async def _cancel_unstarted(self, run_id: int, requested_by: str) -> bool:
        """End a run whose start still waits in the outbox; False when it has none."""
        async with self._sessions() as session, session.begin():
            if not await outbox.remove_run(session, run_id):
                return False
            await runs.finish_run(
                session,
                run_id,
                runs.RunEnd(
                    status=RunStatus.FAILED,
                    completed_at=datetime.now(UTC),
                    error_message=f"cancelled by {requested_by}",
                ),
            )
        return True


async def cancel_workflows(client: Client, workflow_ids: list[str]) -> None:
    """Ask each workflow to cancel; one already gone is fine, another failure is logged."""
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).cancel()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                log.warning("could not cancel open run %s: %s", workflow_id, err)


@dataclass(frozen=True, slots=True)
class Triggered:
    task_run_id: int
    replayed: bool = False
    """An earlier trigger with the same idempotency key made this run; nothing was started."""
    workflow_id: str | None = None
    """The new run's workflow (None when replayed): it is open, perhaps not started yet."""
    dropping: asyncio.Task[None] | None = None
    """The started run's outbox entry being dropped meanwhile; ``settled`` awaits it."""

    async def settled(self) -> None:
        """Return once the trigger's own writes are done; await it before answering."""
        if self.dropping is not None:
            await asyncio.shield(self.dropping)


# A claim is retried only when the key vanished between our insert and our
# read (it expired and the reconciler purged it).
_CLAIM_ATTEMPTS = 3


def _key_reused(other_task_id: int) -> ApiError:
    return ApiError(
        409,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        f"This Idempotency-Key was already used to trigger task {other_task_id}",
        {"field": "Idempotency-Key", "task_id": other_task_id},
    )


def _finished(run: TaskRun) -> ApiError:
    return ApiError(
        409,
        ErrorCode.TASK_RUN_FINISHED,
        f"Task run {run.id} has already finished ({run.status}); there is nothing to cancel",
        {"status": run.status},
    )
