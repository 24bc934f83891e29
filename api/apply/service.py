"""Declarative apply and export: a whole set of tasks, keyed by name, written as one unit.

The unit is task CRUD's (``api.tasks.service``), widened to the set: one
transaction holds every row change, the schedules follow, and a schedule
Temporal refuses (or a failed commit) rolls the transaction back and undoes
the schedules already changed. Applies are serialised, so each plans from
what the previous one committed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.apply.decode import decode_definition, label, problem, problem_of, refusal
from api.apply.plan import Existing, Plan, Wanted, graph_problems, make_plan
from api.apply.schemas import (
    ApplyDefinition,
    ApplyOut,
    ApplyProblem,
    ApplyRequest,
    ExportOut,
    PlannedCreate,
    PlannedDelete,
    PlannedUnchanged,
    PlannedUpdate,
)
from api.errors import ApiError, ErrorCode
from api.tasks.definition_rules import canonical_fields
from api.tasks.references import missing_references
from api.tasks.service import cancel_workflows
from domain.tasks import TaskDefinition
from persistence import status_history, tasks
from persistence.models import Task
from settings import Settings
from workflows.schedules import ScheduleManager

log = logging.getLogger(__name__)

Undo = Callable[[], Awaitable[None]]


class ApplyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        schedules: ScheduleManager,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._schedules = schedules
        self._settings = settings

    async def export(self) -> ExportOut:
        """Every task by id ascending, as a definition apply accepts (dependencies by name)."""
        async with self._sessions() as session:
            existing = await _existing(session, await tasks.all_tasks(session))
        return ExportOut(tasks=[ApplyDefinition(**task.fields) for task in existing.values()])

    async def apply(self, request: ApplyRequest, changed_by: str) -> ApplyOut:
        """Plan the set against the server, refuse it whole (422) on any problem, else write
        the plan (unless ``dry_run``) as one unit with the schedules."""
        problems, wanted = self._definitions(request.tasks)
        set_names: dict[str, list[int]] = {}
        for index, item in enumerate(request.tasks):
            if (name := label(item)) is not None:
                set_names.setdefault(name, []).append(index)
        open_runs: list[str] = []
        async with self._sessions() as session:
            await tasks.serialise_applies(session)
            rows = await (tasks.all_tasks if request.dry_run else tasks.all_tasks_for_update)(
                session
            )
            existing = await _existing(session, rows)
            problems += await _reference_problems(session, wanted)
            problems += graph_problems(existing, wanted, set_names, prune=request.prune)
            if problems:
                raise refusal(problems)
            plan = make_plan(existing, wanted, prune=request.prune)
            if request.dry_run:
                return _answer(request, plan, None)
            by_name = {row.name: row for row in rows}
            ids, open_runs = await self._write(session, plan, by_name, changed_by)
        await cancel_workflows(self._client, open_runs)
        return _answer(request, plan, ids)

    def _definitions(self, items: list[Any]) -> tuple[list[ApplyProblem], list[Wanted]]:
        """Each definition decoded and held to task create's field rules, in canonical form."""
        problems: list[ApplyProblem] = []
        wanted = []
        for index, item in enumerate(items):
            definition, decoding = decode_definition(index, item)
            problems += decoding
            if definition is None:
                continue
            fields, broken = canonical_fields(definition, self._settings.parameter_rules)
            name = fields["name"] or None
            problems += [problem_of(index, name, error) for error in broken]
            if not broken:
                fields["dependencies"] = sorted({dep.strip() for dep in definition.dependencies})
                wanted.append(Wanted(index, fields))
        return problems, wanted

    async def _write(
        self, session: AsyncSession, plan: Plan, rows: dict[str, Task], changed_by: str
    ) -> tuple[dict[str, int], list[str]]:
        """Write the plan and make the schedules follow, then commit; the ids of the set's
        tasks and the open runs of deleted ones. Nothing stays written when any step fails."""
        now = datetime.now(UTC)
        created = []
        for definition in plan.create:
            row = tasks.new_task(_definition(definition, []), now)
            session.add(row)
            created.append((definition, row))
        await _flush_unique(session)
        ids = {name: row.id for name, row in rows.items()}
        ids.update((definition.name, row.id) for definition, row in created)
        for definition, row in created:
            await status_history.record(session, row.id, row.status, now, changed_by, "apply")
            if definition.dependencies:
                await tasks.set_dependencies(session, row.id, _ids(definition, ids))
        schedule_changes: list[tuple[Wanted | None, Callable[[], Awaitable[None]], Undo]] = []
        upsert, delete = self._schedules.upsert, self._schedules.delete
        for definition, row in created:
            spec = tasks.schedule_spec(row)
            schedule_changes.append((definition, _bound(upsert, spec), _bound(delete, row.id)))
        for definition, _current, changed in plan.update:
            row = rows[definition.name]
            before = tasks.schedule_spec(row)
            new = _definition(definition, _ids(definition, ids))
            await tasks.record_status_change(session, row, new.status, now, changed_by, "apply")
            tasks.write_definition(row, new, now)
            if "dependencies" in changed:
                await tasks.set_dependencies(session, row.id, new.dependencies)
            after = tasks.schedule_spec(row)
            if after != before:
                schedule_changes.append((definition, _bound(upsert, after), _bound(upsert, before)))
        open_runs: list[str] = []
        # Deleted tasks may depend on each other: drop all their edges before any row.
        for gone in plan.delete:
            await tasks.set_dependencies(session, gone.id, [])
        for gone in plan.delete:
            row = rows[gone.name]
            before = tasks.schedule_spec(row)
            open_runs += await tasks.remove_task(session, row)
            schedule_changes.append((None, _bound(delete, row.id), _bound(upsert, before)))
        await _flush_deletes(session)
        undo: list[Undo] = []
        try:
            for owner, change, revert in schedule_changes:
                # Before the change: one that fails halfway (a companion schedule made, the
                # task's own refused) is reverted too. Every revert is idempotent.
                undo.append(revert)
                try:
                    await change()
                except RPCError as err:
                    if err.status != RPCStatusCode.INVALID_ARGUMENT or owner is None:
                        raise
                    raise refusal([_temporal_refused(owner, err)]) from err
            await session.commit()
        except BaseException:
            # The session rolls back as it closes; the schedules are ours to revert.
            await _undo(undo)
            raise
        return {name: ids[name] for name in _set_order(plan)}, open_runs


def _bound(action: Callable[[Any], Awaitable[None]], argument: Any) -> Undo:
    """``action(argument)`` as a call to make later (a loop variable bound now)."""

    async def call() -> None:
        await action(argument)

    return call


async def _undo(undo: list[Undo]) -> None:
    """Revert the schedule changes made so far, newest first; the reconciler repairs any
    revert that fails."""
    if undo:
        log.warning("apply failed after %d schedule changes; undoing them", len(undo))
    for revert in reversed(undo):
        try:
            await revert()
        except Exception:
            log.exception("undoing a schedule change failed; the reconciler will repair it")


def _temporal_refused(definition: Wanted, err: RPCError) -> ApplyProblem:
    return problem(
        definition.index,
        definition.name,
        "schedule",
        f"Invalid schedule: Temporal refused it: {err.message}",
        ErrorCode.INVALID_SCHEDULE,
    )


async def _flush_unique(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        # A task of one of the set's names was created by another route meanwhile.
        raise ApiError(
            409,
            ErrorCode.DUPLICATE_TASK_NAME,
            "A task of one of the set's names was created while the apply ran; apply again",
        ) from exc


async def _flush_deletes(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        # A task created meanwhile by another route depends on a task prune deletes.
        raise ApiError(
            409,
            ErrorCode.TASK_HAS_DEPENDENTS,
            "A task created while the apply ran depends on a task it deletes; apply again",
        ) from exc


def _set_order(plan: Plan) -> list[str]:
    entries = [
        *((d.index, d.name) for d in plan.create),
        *((d.index, d.name) for d, _, _ in plan.update),
        *((d.index, d.name) for d, _ in plan.unchanged),
    ]
    return [name for _, name in sorted(entries)]


def _definition(wanted: Wanted, dependency_ids: list[int]) -> TaskDefinition:
    return TaskDefinition(**{**wanted.fields, "dependencies": dependency_ids})


def _ids(wanted: Wanted, ids: dict[str, int]) -> list[int]:
    return sorted(ids[name] for name in wanted.dependencies)


async def _existing(session: AsyncSession, rows: list[Task]) -> dict[str, Existing]:
    """The tasks of ``rows`` by name, each definition with its dependencies by name."""
    edges = await tasks.all_dependencies(session)
    names = {row.id: row.name for row in rows}
    existing = {}
    for row in rows:
        fields = dataclasses.asdict(tasks.definition_of(row, []))
        fields["dependencies"] = sorted(names[dep] for dep in edges.get(row.id, []))
        existing[row.name] = Existing(row.id, fields)
    return existing


async def _reference_problems(session: AsyncSession, wanted: list[Wanted]) -> list[ApplyProblem]:
    """A problem for every secret and notification channel referenced that does not exist."""
    found = await missing_references(
        session,
        [
            (definition.fields["parameters"], definition.fields["notifications"])
            for definition in wanted
        ],
    )
    return [
        problem_of(definition.index, definition.name, error)
        for definition, errors in zip(wanted, found, strict=True)
        for error in errors
    ]


def _answer(request: ApplyRequest, plan: Plan, ids: dict[str, int] | None) -> ApplyOut:
    """The plan as the API shows it; ``ids`` None for a dry run."""
    return ApplyOut(
        dry_run=request.dry_run,
        prune=request.prune,
        create=[
            PlannedCreate(
                name=definition.name,
                id=None if ids is None else ids[definition.name],
                definition=ApplyDefinition(**definition.fields),
            )
            for definition in plan.create
        ],
        update=[
            PlannedUpdate(name=definition.name, id=current.id, changes=changed)
            for definition, current, changed in plan.update
        ],
        unchanged=[
            PlannedUnchanged(name=definition.name, id=current.id)
            for definition, current in plan.unchanged
        ],
        delete=[
            PlannedDelete(name=gone.name, id=gone.id, definition=ApplyDefinition(**gone.fields))
            for gone in plan.delete
        ],
        ids=ids,
    )
