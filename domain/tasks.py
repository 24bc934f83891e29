"""A task's definition, the snapshot of it a run executes, and what its schedule is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from domain.schedule_policy import DstPolicy, OverlapPolicy
from domain.statuses import TaskStatus


@dataclass(frozen=True)
class TaskDefinition:
    """Everything a task's owner writes (the body of ``POST /api/tasks``), in canonical form.

    The task row stores it beside its id and timestamps, the API view shows
    it, and each run executes a snapshot of it (``for_run``). Every
    conversion between them goes by these field names.
    """

    name: str
    task_type: str
    schedule: str
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    dependencies: list[int]
    status: TaskStatus
    timezone: str | None
    dependency_timeout_seconds: int | None
    overlap_policy: str = OverlapPolicy.SKIP.value
    catchup_window_seconds: int | None = None
    """None: the deployment's default (``SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS``)."""
    jitter_seconds: int = 0
    dst_policy: str = DstPolicy.CRON.value
    notifications: list[dict[str, Any]] = field(default_factory=list)
    """``[{"channel_id": int, "on": [event, ...]}]``: the channels each of its events goes to."""
    late_after_seconds: int | None = None
    """A scheduled fire not started this long after its time is ``late``; None: never."""
    pause_after_failures: int | None = None
    """Pause the task after this many consecutive scheduled runs failed; None: never."""
    redeliver_finished: bool = False
    """Run a finished command again when Temporal retries an attempt whose report it lost."""

    def own_fields(self) -> dict[str, Any]:
        """Every field but ``dependencies``, which are edges to other tasks, not a value
        the task holds itself."""
        return {name: getattr(self, name) for name in OWN_FIELDS}

    def for_run(self) -> RunDefinition:
        """The snapshot a new run of this task records and executes."""
        return RunDefinition(
            name=self.name,
            task_type=self.task_type,
            schedule=self.schedule,
            parameters=self.parameters,
            timeout_seconds=self.timeout_seconds,
            max_retries=self.max_retries,
            dependencies=list(self.dependencies),
            dependency_timeout_seconds=self.dependency_timeout_seconds or self.timeout_seconds,
            notifications=[dict(item) for item in self.notifications],
            pause_after_failures=self.pause_after_failures,
            redeliver_finished=self.redeliver_finished,
        )


OWN_FIELDS = tuple(item.name for item in fields(TaskDefinition) if item.name != "dependencies")
"""The definition's fields a task holds itself (a task row has a column for each)."""


@dataclass(frozen=True)
class RunDefinition:
    """The definition a run executes: its task's, as it was when the run was created.

    Stored as JSON on the run (``to_json``); later edits of the task do not
    change what an existing run does.
    """

    name: str
    task_type: str
    schedule: str
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    dependencies: list[int] = field(default_factory=list)
    dependency_timeout_seconds: int = 0
    """How long the run waits for its dependencies (its task's setting, or its timeout)."""
    notifications: list[dict[str, Any]] = field(default_factory=list)
    """Where the run's events go (its task's subscriptions when the run began)."""
    pause_after_failures: int | None = None
    redeliver_finished: bool = False

    @property
    def notifies(self) -> bool:
        """Whether the run's end is looked at for notifications or an auto-pause."""
        return bool(self.notifications) or self.pause_after_failures is not None

    def to_json(self) -> dict[str, Any]:
        """The stored form; the notification and redelivery keys only when set, so the
        snapshots of tasks without them keep the shape they always had."""
        stored = asdict(self)
        for key in _OMITTED_WHEN_UNSET:
            if stored[key] in (None, []) or stored[key] is False:
                del stored[key]
        return stored

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> RunDefinition:
        """Read a stored snapshot; keys a snapshot lacks take their defaults."""
        known = {item.name for item in fields(cls)}
        snapshot = cls(**{key: value for key, value in stored.items() if key in known})
        if not snapshot.dependency_timeout_seconds:
            return replace(snapshot, dependency_timeout_seconds=snapshot.timeout_seconds)
        return snapshot


_OMITTED_WHEN_UNSET = ("notifications", "pause_after_failures", "redeliver_finished")


@dataclass(frozen=True)
class ScheduledTask:
    """The parts of a task its Temporal schedule is built from."""

    id: int
    name: str
    task_type: str
    schedule: str
    timezone: str | None
    active: bool
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP
    catchup_window_seconds: int | None = None
    """None: the deployment's default (``SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS``)."""
    jitter_seconds: int = 0
    dst_policy: DstPolicy = DstPolicy.CRON
    paused_reason: str | None = None
    """Why the scheduler paused the task itself; goes into the paused schedule's note."""
