"""Test doubles of the activities ``TaskRunWorkflow`` calls, under the real names.

``Mirror`` stands in for the run recorder (the database) and ``Executor`` for a
shell executor worker: each keeps what the workflow asked of it, in order, so
a test reads the run's story as the mirror would have recorded it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import failures
from workflows.payloads import (
    BeginRun,
    DependencyCheck,
    DependencyStatus,
    DispatchRun,
    ExecuteTask,
    ExecutionResult,
    FinishRun,
    NotifyDependents,
    RunPlan,
)


@dataclass
class Mirror:
    """The run recorder: answers ``begin_run`` with ``plan`` and keeps every write.

    ``dependencies`` answers each ``check_dependencies`` (called with the number
    of checks made before it); by default every dependency is met.
    """

    plan: RunPlan
    dependencies: Callable[[int], DependencyStatus] = lambda _: DependencyStatus()
    task_gone: bool = False
    events: list[str] = field(default_factory=list)
    finished: list[FinishRun] = field(default_factory=list)
    checks: int = 0

    @activity.defn(name="begin_run")
    async def begin_run(self, start: BeginRun) -> RunPlan:
        self.events.append("begin")
        if self.task_gone:
            raise ApplicationError(
                "task 1 no longer exists", type=failures.TASK_NOT_FOUND, non_retryable=True
            )
        return self.plan

    @activity.defn(name="mark_dispatched")
    async def mark_dispatched(self, dispatch: DispatchRun) -> None:
        self.events.append("dispatched")

    @activity.defn(name="check_dependencies")
    async def check_dependencies(self, check: DependencyCheck) -> DependencyStatus:
        answer = self.dependencies(self.checks)
        self.checks += 1
        self.events.append("unmet" if answer.unmet or answer.deleted else "met")
        return answer

    @activity.defn(name="finish_run")
    async def finish_run(self, finish: FinishRun) -> None:
        self.events.append(f"finish:{finish.status}")
        self.finished.append(finish)

    @activity.defn(name="notify_dependents")
    async def notify_dependents(self, notify: NotifyDependents) -> None:
        self.events.append("notify")

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.begin_run,
            self.mark_dispatched,
            self.check_dependencies,
            self.finish_run,
            self.notify_dependents,
        ]

    @property
    def final(self) -> FinishRun:
        """The one final state recorded."""
        assert len(self.finished) == 1, self.finished
        return self.finished[0]


Behaviour = str
"""What one executor attempt does:

- ``succeed``: report success with output ``ok``;
- ``fail``: fail as a command exiting non-zero, reporting like the real executors;
- ``invalid``: refuse the parameters (not retryable);
- ``hang``: never return and never heartbeat (its worker was lost);
- ``work``: heartbeat until cancelled, then clean up and end cancelled;
- ``overrun``: heartbeat past the attempt's timeout.
"""


@dataclass
class Executor:
    """The shell executor: each attempt follows the next of ``script`` (the last repeats)."""

    script: list[Behaviour]
    events: list[str] = field(default_factory=list)
    """Where the executor notes its clean-up: pass the mirror's to read one story."""
    worker_id: str = "double-worker"
    invocations: list[ExecuteTask] = field(default_factory=list)
    attempts: list[int] = field(default_factory=list)
    """The attempt number each attempt reported (Temporal's, plus the offset)."""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cleaned_up: bool = False

    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        info = activity.info()
        if info.attempt == 1:
            self.invocations.append(task)
        attempt = task.attempt_offset + info.attempt
        behaviour = self.script[min(len(self.attempts), len(self.script) - 1)]
        self.attempts.append(attempt)
        self.started.set()
        started_at = datetime.now(UTC)
        if behaviour == "succeed":
            return ExecutionResult(self.worker_id, attempt, started_at, 5, output="ok\n")
        if behaviour == "fail":
            report = ExecutionResult(
                self.worker_id, attempt, started_at, 5, output="partial\n", error="exit code 3"
            )
            raise ApplicationError("exit code 3", report, type=failures.COMMAND_FAILED)
        if behaviour == "invalid":
            # Not marked non-retryable here: the workflow's retry policy must know the kind.
            raise ApplicationError(
                "working directory does not exist", type=failures.INVALID_PARAMETERS
            )
        if behaviour == "hang":
            await asyncio.sleep(3600)
        try:
            while True:  # "work" and "overrun"
                activity.heartbeat()
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self.cleaned_up = True
            self.events.append("cleaned-up")
            raise
        raise AssertionError(f"unknown behaviour {behaviour!r}")
