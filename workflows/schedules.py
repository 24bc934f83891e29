"""Keeping a task's Temporal Schedule (id ``task-<id>``) in step with its definition."""

from __future__ import annotations

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

from settings import Settings
from workflows import search_attributes
from workflows.cron import to_temporal_cron
from workflows.payloads import RunInput, ScheduledTask
from workflows.task_run import TaskRunWorkflow

PAUSED_NOTE = "paused: task is Inactive"


def schedule_id(task_id: int) -> str:
    return f"task-{task_id}"


def manual_workflow_id(task_id: int, task_run_id: int) -> str:
    return f"task-{task_id}-manual-{task_run_id}"


@dataclass(frozen=True)
class SchedulePolicyConfig:
    orchestrator_queue: str
    catchup_window_seconds: int


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
        state=ScheduleState(paused=not task.active, note=None if task.active else PAUSED_NOTE),
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
        await self.set_paused(task.id, paused=not task.active)

    async def set_paused(self, task_id: int, *, paused: bool) -> None:
        handle = self._client.get_schedule_handle(schedule_id(task_id))
        if paused:
            await handle.pause(note=PAUSED_NOTE)
        else:
            await handle.unpause(note="task is Active")

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
        ),
    )
