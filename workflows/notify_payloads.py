"""Plain dataclasses of the notification workflows (new fields always defaulted)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class TaskEvent:
    """Something to tell a task's subscribers (or, for ``test``, one channel) about.

    ``event_id`` names the event: emitting the same id again delivers nothing new.
    """

    event: str
    """A ``domain.notifications.Event`` value."""
    event_id: str
    task_id: int | None
    occurred_at: datetime
    task_run_id: int | None = None
    """The run the event is about; None for ``late``, ``missed`` and ``test``."""
    scheduled_at: datetime | None = None
    """The fire time a ``late`` or ``missed`` event is about (shown in chat and e-mail text)."""
    channel_id: int | None = None
    """``test`` only: the one channel to deliver to."""


@dataclass
class PreparedDeliveries:
    """The deliveries recorded for an event that are still to be made, and how to retry them."""

    delivery_ids: list[int] = field(default_factory=list)
    retry_initial_interval_seconds: float = 1.0
    retry_maximum_interval_seconds: float = 300.0
    retry_for_seconds: float = 24 * 3600.0
    maximum_attempts: int = 0
    """0: unlimited within ``retry_for_seconds``."""


@dataclass
class Deliver:
    delivery_id: int


@dataclass
class DeliveryOutcome:
    delivery_id: int
    delivered: bool
    attempts: int = 0
    status: int | None = None
    """The HTTP status (SMTP reply code) of the last attempt."""
    error: str | None = None


@dataclass
class GiveUp:
    delivery_id: int
    reason: str


@dataclass
class NotifyOutcome:
    event_id: str
    deliveries: list[DeliveryOutcome] = field(default_factory=list)


@dataclass
class RunEnded:
    """A run reached its final status: what ``RunEndedWorkflow`` looks at."""

    task_id: int
    task_run_id: int
    status: str
    completed_at: datetime


@dataclass
class RunEndEvents:
    """The events a run's end raises (the auto-pause, if any, already done)."""

    events: list[TaskEvent] = field(default_factory=list)
