"""Run and task statuses and run triggers, as the API shows them and the mirror stores them."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class RunStatus(StrEnum):
    PENDING = "Pending"
    DISPATCHED = "Dispatched"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TIMEOUT = "Timeout"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.TIMEOUT})
OPEN_STATUSES = frozenset({RunStatus.PENDING, RunStatus.DISPATCHED, RunStatus.RUNNING})

TaskStatus = Literal["Active", "Inactive"]
"""``Inactive`` means the task's schedule is paused."""


class RunTrigger(StrEnum):
    """What started a run."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    BACKFILL = "backfill"


RunTriggerName = Literal["schedule", "manual", "backfill"]
