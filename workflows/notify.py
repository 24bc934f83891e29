"""Notifications as workflows: each event is delivered by a ``NotifyWorkflow`` of its own.

Its workflow id is ``notify-<event_id>`` and ids are never reused, so an event
emitted twice (a retried check, a replayed run) is delivered once, and a
crash of any process loses nothing: each delivery is an activity that
Temporal retries with backoff for ``SCHEDULER_NOTIFY_RETRY_HOURS``.

A run's workflow hands its end to a ``RunEndedWorkflow`` child it abandons,
after the run's final mirror write: the run, its dependents and its
workflow's completion never wait for a receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import failures
    from workflows.notify_activities import NotifyActivities
    from workflows.notify_payloads import (
        Deliver,
        DeliveryOutcome,
        GiveUp,
        NotifyOutcome,
        RunEnded,
        TaskEvent,
    )

BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
ATTEMPT_TIMEOUT = timedelta(seconds=30)
"""One delivery attempt: the 10 s request timeout plus resolution and the mirror write."""


def notify_workflow_id(event_id: str) -> str:
    return f"notify-{event_id}"


def run_ended_workflow_id(task_run_id: int) -> str:
    return f"run-{task_run_id}-ended"


@workflow.defn(name="NotifyWorkflow")
class NotifyWorkflow:
    """Deliver one event to every channel subscribed to it, each delivery retried on its own."""

    @workflow.run
    async def run(self, event: TaskEvent) -> NotifyOutcome:
        prepared = await workflow.execute_activity_method(
            NotifyActivities.prepare_deliveries,
            event,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=prepared.retry_initial_interval_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=prepared.retry_maximum_interval_seconds),
            maximum_attempts=prepared.maximum_attempts,
            non_retryable_error_types=[failures.NOTIFICATION_UNDELIVERABLE],
        )
        deadline = timedelta(seconds=prepared.retry_for_seconds)
        outcomes = await asyncio.gather(
            *(self._deliver(each, retry, deadline) for each in prepared.delivery_ids)
        )
        return NotifyOutcome(event_id=event.event_id, deliveries=list(outcomes))

    async def _deliver(
        self, delivery_id: int, retry: RetryPolicy, deadline: timedelta
    ) -> DeliveryOutcome:
        try:
            return await workflow.execute_activity_method(
                NotifyActivities.deliver_notification,
                Deliver(delivery_id=delivery_id),
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=deadline,
                retry_policy=retry,
            )
        except ActivityError as err:
            cause = err.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            return await workflow.execute_activity_method(
                NotifyActivities.give_up_delivery,
                GiveUp(delivery_id=delivery_id, reason=reason),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY,
            )


@workflow.defn(name="RunEndedWorkflow")
class RunEndedWorkflow:
    """A run's end: pause its task if it failed too often, then emit the events it raises."""

    @workflow.run
    async def run(self, ended: RunEnded) -> list[str]:
        raised = await workflow.execute_activity_method(
            NotifyActivities.evaluate_run_end,
            ended,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        for event in raised.events:
            await start_notify_child(event)
        return [event.event_id for event in raised.events]


async def start_notify_child(event: TaskEvent) -> None:
    """From workflow code: start the event's ``NotifyWorkflow`` and leave it running alone."""
    # Emitted before (a repeated start): it is delivered once.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            NotifyWorkflow.run,
            event,
            id=notify_workflow_id(event.event_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )


async def emit_event(client: Client, task_queue: str, event: TaskEvent) -> bool:
    """Start the event's ``NotifyWorkflow`` on ``task_queue`` (the orchestrator's) and return.

    False when an event with this ``event_id`` was emitted before (running or
    finished): nothing new is delivered. Never waits for the delivery.
    """
    try:
        await client.start_workflow(
            NotifyWorkflow.run,
            event,
            id=notify_workflow_id(event.event_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"{event.event} notification {event.event_id}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True
