"""Keeping a task's Temporal Schedule (id ``task-<id>``) in step with its definition.

A ``cron``-policy task whose cron a DST change affects has a companion
schedule ``task-<id>-dst`` (``workflows.schedule_spec``): same action, same
policies, paused with the task, created before and deleted after the task's
own schedule, so the note on ``task-<id>`` (which the reconciler checks)
vouches for both.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.schedule_policy import OverlapPolicy
from domain.tasks import ScheduledTask
from settings import Settings
from workflows import search_attributes
from workflows.payloads import RunInput
from workflows.schedule_spec import FireSpecs, fire_specs
from workflows.task_run import TaskRunWorkflow

PAUSED_NOTE = "paused: task is Inactive"
ACTIVE_NOTE = "task is Active"
_DIGEST_IN_NOTE = re.compile(r"\(definition ([0-9a-f]{16})\)$")


OVERLAP_POLICIES = {
    OverlapPolicy.SKIP: ScheduleOverlapPolicy.SKIP,
    OverlapPolicy.BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE,
    OverlapPolicy.BUFFER_ALL: ScheduleOverlapPolicy.BUFFER_ALL,
    OverlapPolicy.CANCEL_OTHER: ScheduleOverlapPolicy.CANCEL_OTHER,
    OverlapPolicy.TERMINATE_OTHER: ScheduleOverlapPolicy.TERMINATE_OTHER,
    OverlapPolicy.ALLOW_ALL: ScheduleOverlapPolicy.ALLOW_ALL,
}


def schedule_id(task_id: int) -> str:
    return f"task-{task_id}"


def companion_id(task_id: int) -> str:
    """The schedule that fires a ``cron``-policy task's corrected DST-change times."""
    return f"task-{task_id}-dst"


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
        catchup_window_seconds(task, config),
        config.payload_signer,
        task.overlap_policy,
        task.jitter_seconds,
        task.dst_policy,
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
    if task.active:
        reason = ACTIVE_NOTE
    else:
        reason = f"paused: {task.paused_reason}" if task.paused_reason else PAUSED_NOTE
    return f"{reason} (definition {definition_digest(task, config)})"


def digest_in(note: str | None) -> str | None:
    """The definition digest a note written by :func:`state_note` carries."""
    found = _DIGEST_IN_NOTE.search(note or "")
    return found.group(1) if found else None


def catchup_window_seconds(task: ScheduledTask, config: SchedulePolicyConfig) -> int:
    """The task's catch-up window, or the deployment's default when it has none of its own."""
    if task.catchup_window_seconds is None:
        return config.catchup_window_seconds
    return task.catchup_window_seconds


def task_fire_specs(task: ScheduledTask) -> FireSpecs:
    return fire_specs(task.schedule, task.timezone, task.dst_policy, task.jitter_seconds)


def build_schedule(
    task: ScheduledTask, config: SchedulePolicyConfig, spec: ScheduleSpec | None = None
) -> Schedule:
    """The Schedule that fires ``TaskRunWorkflow(task.id)`` on ``spec`` (default: the task's own).

    The companion schedule is the same Schedule on the companion spec: its
    fires get the same workflow ids (``task-<id>-<fire time>``), search
    attributes and policies.
    """
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
        spec=spec if spec is not None else task_fire_specs(task).native,
        policy=SchedulePolicy(
            overlap=OVERLAP_POLICIES[task.overlap_policy],
            catchup_window=timedelta(seconds=catchup_window_seconds(task, config)),
        ),
        state=ScheduleState(paused=not task.active, note=state_note(task, config)),
    )


class ScheduleManager:
    """Create, replace and delete task schedules; every call is idempotent."""

    def __init__(self, client: Client, config: SchedulePolicyConfig) -> None:
        self._client = client
        self._config = config

    async def upsert(self, task: ScheduledTask) -> None:
        """Make the schedules match ``task``: create them, or replace them wholesale."""
        specs = task_fire_specs(task)
        if specs.companion is None:
            await self._delete(companion_id(task.id))
        else:
            companion = build_schedule(task, self._config, specs.companion)
            await self._put(companion_id(task.id), companion, task)
        native = build_schedule(task, self._config, specs.native)
        await self._put(schedule_id(task.id), native, task)

    async def _put(self, id_: str, schedule: Schedule, task: ScheduledTask) -> None:
        try:
            await self._client.create_schedule(id_, schedule)
            return
        except ScheduleAlreadyRunningError:
            pass
        handle = self._client.get_schedule_handle(id_)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            # Pure: may be called more than once on a conflict.
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        # The paused flag is state the server may keep across an update; set it explicitly.
        await self._set_paused(id_, task)

    def schedule_ids(self, task: ScheduledTask) -> list[str]:
        """The ids of the schedules that fire ``task``: its own, and its companion if any."""
        if task_fire_specs(task).companion is None:
            return [schedule_id(task.id)]
        return [schedule_id(task.id), companion_id(task.id)]

    def holds(self, task: ScheduledTask, note: str | None) -> bool:
        """Whether a schedule with this note was built from ``task``'s current definition."""
        return digest_in(note) == definition_digest(task, self._config)

    async def backfill(
        self, task: ScheduledTask, start: datetime, end: datetime, overlap: OverlapPolicy
    ) -> None:
        """Run the task's fires of ``[start, end]`` (both ends included), paused or not."""
        backfill = ScheduleBackfill(start_at=start, end_at=end, overlap=OVERLAP_POLICIES[overlap])
        for id_ in self.schedule_ids(task):
            await self._client.get_schedule_handle(id_).backfill(backfill)

    async def set_paused(self, task: ScheduledTask) -> None:
        """Pause the schedules of an inactive task, unpause an active one's."""
        for id_ in reversed(self.schedule_ids(task)):
            await self._set_paused(id_, task)

    async def _set_paused(self, id_: str, task: ScheduledTask) -> None:
        handle = self._client.get_schedule_handle(id_)
        note = state_note(task, self._config)
        if task.active:
            await handle.unpause(note=note)
        else:
            await handle.pause(note=note)

    async def skipped_runs(self, task_id: int) -> int | None:
        """Fires skipped because the previous run was still open (None: schedule gone)."""
        own = await self._skipped(schedule_id(task_id))
        if own is None:
            return None
        return own + (await self._skipped(companion_id(task_id)) or 0)

    async def _skipped(self, id_: str) -> int | None:
        try:
            described = await self._client.get_schedule_handle(id_).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return described.info.num_actions_skipped_overlap

    async def delete(self, task_id: int) -> None:
        """Delete the schedules; a schedule that is already gone is fine."""
        await self._delete(schedule_id(task_id))
        await self._delete(companion_id(task_id))

    async def _delete(self, id_: str) -> None:
        try:
            await self._client.get_schedule_handle(id_).delete()
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
