"""Plain dataclasses that cross the Temporal boundary.

New fields are always defaulted so that histories stay replayable.
Timestamps are aware ``datetime`` fields: the default converter writes them
in ISO 8601 and reads both that and the ``...Z`` strings of older histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RunInput:
    """What starts a ``TaskRunWorkflow``: the schedule passes only ``task_id``."""

    task_id: int
    task_run_id: int | None = None
    """Set by a manual trigger, which creates the run row before starting."""


@dataclass
class BeginRun:
    task_id: int
    workflow_id: str
    temporal_run_id: str
    scheduled_at: datetime
    """The schedule's fire time, or the trigger time."""
    task_run_id: int | None = None


@dataclass
class RunPlan:
    """The definition snapshot a run executes, and the policy knobs of this deployment."""

    task_run_id: int
    task_id: int
    task_type: str
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    executor_queue: str
    heartbeat_timeout_seconds: float
    retry_initial_interval_seconds: float
    retry_backoff_coefficient: float
    retry_maximum_interval_seconds: float
    already_finished: bool = False
    """The row was already terminal (a replayed or duplicated start): do nothing."""
    dependencies: list[int] = field(default_factory=list)
    dependency_timeout_seconds: int = 0
    dependency_recheck_seconds: float = 30.0
    lost_attempt_retries: int = 2
    dispatched: bool = False
    """begin_run already marked the run Dispatched (it has no dependencies)."""
    notifies: bool = False
    """The run's end is to be looked at for notifications and auto-pause (``RunEndedWorkflow``)."""
    redeliver_finished: bool = False
    """The task opted out of recovered outcomes: a retried attempt always runs again."""
    patches_applied: bool = False
    """The patches of ``TaskRunWorkflow`` in its ``PATCHES_IN_PLAN`` hold for this
    run without asking ``workflow.patched`` (each such call records a marker and
    upserts the ``TemporalChangeVersion`` search attribute: a visibility write
    per run); a patch added later is asked as usual.
    The orchestrator's ``begin_run`` sets it; a plan recorded before lacks it,
    and that history answers each patch by its marker, as it was recorded."""


@dataclass
class DependencyCheck:
    task_run_id: int


@dataclass
class DependencyStatus:
    """Which dependencies of a run are not yet satisfied (empty lists: go)."""

    unmet: list[str] = field(default_factory=list)
    """Readable ``name (id N)`` of each dependency without a qualifying completion."""
    deleted: list[int] = field(default_factory=list)
    """Dependency ids whose task no longer exists: the run can never start."""


@dataclass
class NotifyDependents:
    task_id: int


@dataclass
class DispatchRun:
    task_run_id: int


@dataclass
class ExecuteTask:
    """Input of an executor activity (one per task type)."""

    task_run_id: int
    task_id: int
    parameters: dict[str, Any]
    timeout_seconds: int
    attempt_offset: int = 0
    """Attempts made before this activity invocation (attempts lost with a worker)."""
    max_attempts: int = 0
    """The task's own attempts (``max_retries + 1``); 0: not known (older histories)."""
    redeliver_finished: bool = False
    """Run the command again even when an earlier attempt's outcome was recorded."""


@dataclass
class ExecutionResult:
    """What an executor attempt reports, on success and (as error details) on failure."""

    worker_id: str
    attempt: int
    started_at: datetime
    duration_ms: int
    output: str = ""
    error: str | None = None
    recovered_from: int | None = None
    """The earlier attempt whose recorded outcome this is (its command was not run again)."""


@dataclass
class FinishRun:
    task_run_id: int
    status: str
    completed_at: datetime
    result: str | None = None
    error_message: str | None = None
    worker_id: str | None = None
    retry_count: int | None = None
    started_at: datetime | None = None
    execution_duration_ms: int | None = None
    task_id: int = 0
    """Set by current workflows: a Completed finish then wakes the runs waiting on it."""


@dataclass
class RunOutcome:
    task_run_id: int | None
    status: str
    details: list[str] = field(default_factory=list)
