"""The parts of a task that other layers act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduledTask:
    """The parts of a task its Temporal schedule is built from."""

    id: int
    name: str
    task_type: str
    schedule: str
    timezone: str | None
    active: bool
