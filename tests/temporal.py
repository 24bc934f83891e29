"""Looking at the Temporal side of the stack from tests."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, ScheduleDescription
from temporalio.service import RPCError, RPCStatusCode


async def _describe(address: str, schedule_id: str) -> ScheduleDescription | None:
    client = await Client.connect(address)
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def describe_schedule(address: str, task_id: int) -> ScheduleDescription | None:
    """The task's schedule as Temporal holds it, or None when it does not exist."""
    return asyncio.run(_describe(address, f"task-{task_id}"))


async def _list_workflows(address: str, query: str) -> list[Any]:
    client = await Client.connect(address)
    return [wf async for wf in client.list_workflows(query)]


def list_workflows(address: str, query: str) -> list[Any]:
    return asyncio.run(_list_workflows(address, query))


async def _trigger_schedule(address: str, schedule_id: str) -> None:
    client = await Client.connect(address)
    await client.get_schedule_handle(schedule_id).trigger()


def trigger_schedule(address: str, task_id: int) -> None:
    """One fire of the task's schedule now (``ScheduleHandle.trigger``), as a cron fire would."""
    asyncio.run(_trigger_schedule(address, f"task-{task_id}"))


async def _activity_completed(address: str, workflow_id: str) -> bool:
    client = await Client.connect(address)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return any(
        event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for event in history.events
    )


def activity_completed(address: str, workflow_id: str) -> bool:
    """Whether an activity of the workflow (a run's one: its attempt) reported completion."""
    return asyncio.run(_activity_completed(address, workflow_id))
