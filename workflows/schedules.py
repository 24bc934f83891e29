"""Keeping a task's Temporal Schedule (id ``task-<id>``) in step with its definition."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.cron import to_temporal_cron
from domain.tasks import ScheduledTask
from settings import Settings
from workflows import search_attributes
from workflows.payloads import RunInput
from workflows.task_run import TaskRunWorkflow

PAUSED_NOTE = "paused: task is Inactive"
ACTIVE_NOTE = "task is Active"
_DIGEST_IN_NOTE = re.compile(r"\(definition ([0-9a-f]{16})\)$")


def schedule_id(task_id: int) -> str:
    return f"task-{task_id}"


def manual_workflow_id(task_id: int, task_run_id: int) -> str:
    return f"task-{task_id}-manual-{task_run_id}"


@dataclass(frozen=True)
class SchedulePolicyConfig:
    orchestrator_queue: str
    catchup_window_seconds: int
    payload_signer: str = ""
    """The key id that signs payloads (and whether they are sealed): a schedule's action
    input is a payload, so a new key or mode rebuilds every schedule with it."""


def definition_digest(task: ScheduledTask, config: SchedulePolicyConfig) -> str:
    """A digest of everything the schedule is built from except the paused flag."""
    built_from = [
        task.schedule,
        task.timezone or "UTC",
        task.name,
        task.task_type,
        config.orchestrator_queue,
        config.catchup_window_seconds,
        config.payload_signer,
    ]
    return hashlib.sha256(json.dumps(built_from).encode()).hexdigest()[:16]


def state_note(task: ScheduledTask, config: SchedulePolicyConfig) -> str:
    """The schedule's note: why it is (un)paused, and the digest of the definition it holds.

    Temporal compiles a cron into calendars and keeps no copy of the
    expression, and the listing of schedules shows notes but not actions: the
    digest is how the reconciler sees that a schedule no longer matches its
    task (a process that died between updating the schedule and committing
    the task) without describing every schedule.
    """
    reason = ACTIVE_NOTE if task.active else PAUSED_NOTE
    return f"{reason} (definition {definition_digest(task, config)})"


def digest_in(note: str | None) -> str | None:
    """The definition digest a note written by :func:`state_note` carries."""
    found = _DIGEST_IN_NOTE.search(note or "")
    return found.group(1) if found else None


def build_schedule(task: ScheduledTask, config: SchedulePolicyConfig) -> Schedule:
    """The Schedule that fires ``TaskRunWorkflow(task.id)`` on the task's cron."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            TaskRunWorkflow.run,
            RunInput(task_id=task.id),
            id=schedule_id(task.id),
            task_queue=config.orchestrator_queue,
            typed_search_attributes=search_attributes.for_task(task.id, task.name, task.task_type),
            memo={"task_id": task.id, "task_name": task.name, "task_type": task.task_type},
            static_summary=f"{task.task_type} task {task.name!r} (id {task.id})",
        ),
        spec=ScheduleSpec(
            cron_expressions=[to_temporal_cron(task.schedule)],
            time_zone_name=task.timezone or "UTC",
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            catchup_window=timedelta(seconds=config.catchup_window_seconds),
        ),
        state=ScheduleState(paused=not task.active, note=state_note(task, config)),
    )


class ScheduleManager:
    """Create, replace and delete task schedules; every call is idempotent."""

    def __init__(self, client: Client, config: SchedulePolicyConfig) -> None:
        self._client = client
        self._config = config

    async def upsert(self, task: ScheduledTask) -> None:
        """Make the schedule match ``task``: create it, or replace it wholesale."""
        schedule = build_schedule(task, self._config)
        try:
            await self._client.create_schedule(schedule_id(task.id), schedule)
            return
        except ScheduleAlreadyRunningError:
            pass
        handle = self._client.get_schedule_handle(schedule_id(task.id))

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            # Pure: may be called more than once on a conflict.
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        # The paused flag is state the server may keep across an update; set it explicitly.
        await self.set_paused(task)

    def holds(self, task: ScheduledTask, note: str | None) -> bool:
        """Whether a schedule with this note was built from ``task``'s current definition."""
        return digest_in(note) == definition_digest(task, self._config)

    async def set_paused(self, task: ScheduledTask) -> None:
        """Pause the schedule of an inactive task, unpause an active one's."""
        handle = self._client.get_schedule_handle(schedule_id(task.id))
        note = state_note(task, self._config)
        if task.active:
            await handle.unpause(note=note)
        else:
            await handle.pause(note=note)

    async def skipped_runs(self, task_id: int) -> int | None:
        """Fires skipped because the previous run was still open (None: schedule gone)."""
        try:
            described = await self._client.get_schedule_handle(schedule_id(task_id)).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return described.info.num_actions_skipped_overlap

    async def delete(self, task_id: int) -> None:
        """Delete the schedule; a schedule that is already gone is fine."""
        try:
            await self._client.get_schedule_handle(schedule_id(task_id)).delete()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise


def schedule_manager(client: Client, settings: Settings) -> ScheduleManager:
    """The deployment's schedule manager, with its queue and catch-up policy."""
    return ScheduleManager(
        client,
        SchedulePolicyConfig(
            orchestrator_queue=settings.orchestrator_queue,
            catchup_window_seconds=settings.schedule_catchup_window_seconds,
            payload_signer=settings.payload_keys[0].kid
            + ("+sealed" if settings.payload_encryption else ""),
        ),
    )
