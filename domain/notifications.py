"""Notification events, channel types, and the ids and bodies every delivery carries.

One event (a run failed, a fire is late, ...) goes to each channel a task
subscribed for it. ``event_id`` names the event, not the attempt: every
retry of every delivery of one event carries the same id, so a receiver can
drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Event(StrEnum):
    FAILURE = "failure"
    TIMEOUT = "timeout"
    RECOVERY = "recovery"
    SUCCESS = "success"
    LATE = "late"
    MISSED = "missed"
    AUTO_PAUSED = "auto_paused"
    TEST = "test"


SUBSCRIBABLE_EVENTS = tuple(event.value for event in Event if event is not Event.TEST)
"""What a task's ``notifications[].on`` may list (``test`` is sent by hand only)."""


class ChannelType(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


SIGNATURE_HEADER = "X-Scheduler-Signature"
RESULT_TAIL_CHARS = 2000
"""How much of a run's output (its end) a notification carries."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_event_id(event: Event, task_run_id: int) -> str:
    """The id of a run's ``failure``/``timeout``/``success``/``recovery``/``auto_paused`` event."""
    return f"run-{task_run_id}-{event.value}"


def fire_event_id(event: Event, task_id: int, fire_at: datetime) -> str:
    """The id of a fire's ``late`` or ``missed`` event: one per task, kind and fire time."""
    return f"task-{task_id}-{event.value}-{_stamp(fire_at)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Scheduler-Signature`` value: ``t=<unix seconds>,v1=<hex>``, the hex being
    the HMAC-SHA256 of ``"<t>.<body>"`` with the channel's secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def tail(text: str | None, limit: int = RESULT_TAIL_CHARS) -> str | None:
    """The last ``limit`` characters of ``text``."""
    if text is None:
        return None
    return text[-limit:]


def headline(body: dict[str, Any]) -> str:
    """One line saying what happened, for chat messages and e-mail subjects."""
    task = body.get("task") or {}
    run = body.get("run") or {}
    name = task.get("name", "?")
    event = body["event"]
    if event == Event.TEST:
        return "Test notification from the scheduler"
    if event in (Event.LATE, Event.MISSED):
        return f"Task {name!r}: a scheduled run is {event}"
    if event == Event.AUTO_PAUSED:
        return f"Task {name!r} was paused after repeated failures"
    return f"Task {name!r}: run {run.get('id')} {event} ({run.get('status')})"
