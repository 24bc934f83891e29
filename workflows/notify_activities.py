"""The activities of the notification workflows, as the workflows see them.

Implemented by ``activities.notifier.Notifier`` on the orchestrator (they need
the database and the network); declared here (names and payload types only),
so workflow code imports nothing with I/O. The names are recorded in
workflow histories: they never change.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import activity

from workflows.notify_payloads import (
    Deliver,
    DeliveryOutcome,
    GiveUp,
    PreparedDeliveries,
    RunEnded,
    RunEndEvents,
    TaskEvent,
)


class NotifyActivities(Protocol):
    @activity.defn(name="evaluate_run_end")
    async def evaluate_run_end(self, ended: RunEnded) -> RunEndEvents:
        """The events the run's end raises; pauses the task first when its
        ``pause_after_failures`` is reached (idempotent)."""
        ...

    @activity.defn(name="prepare_deliveries")
    async def prepare_deliveries(self, event: TaskEvent) -> PreparedDeliveries:
        """Record one delivery per subscribed channel (once per event id) with the
        event's body; the ids of those not yet delivered or given up."""
        ...

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, deliver: Deliver) -> DeliveryOutcome:
        """Send the delivery once and record the attempt; fails (to be retried) unless
        the receiver accepted it."""
        ...

    @activity.defn(name="give_up_delivery")
    async def give_up_delivery(self, give_up: GiveUp) -> DeliveryOutcome:
        """Record that the delivery's retries are spent."""
        ...
