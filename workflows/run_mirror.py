"""The mirror writes ``TaskRunWorkflow`` makes, as the workflow sees them.

They run as local activities on the orchestrator and are implemented by
``activities.run_recorder.RunRecorder``, which needs the database. The
workflow calls them through this declaration (names and payload types only),
so workflow code imports nothing with I/O and the type checker sees both ends
of every call. The names are recorded in workflow histories: they never change.
"""

from __future__ import annotations

from typing import Protocol

from temporalio import activity

from workflows.payloads import (
    BeginRun,
    DependencyCheck,
    DependencyStatus,
    DispatchRun,
    FinishRun,
    NotifyDependents,
    RunPlan,
)


class RunMirror(Protocol):
    @activity.defn(name="begin_run")
    async def begin_run(self, start: BeginRun) -> RunPlan:
        """Create (or find) the run row and return the definition snapshot to execute.

        Fails with ``domain.failures.TASK_NOT_FOUND`` when the task or run is gone.
        """
        ...

    @activity.defn(name="mark_dispatched")
    async def mark_dispatched(self, dispatch: DispatchRun) -> None:
        """Move the run to ``Dispatched`` (never backwards)."""
        ...

    @activity.defn(name="finish_run")
    async def finish_run(self, finish: FinishRun) -> None:
        """Record the run's final state; a ``Completed`` finish wakes the runs waiting on it."""
        ...

    @activity.defn(name="check_dependencies")
    async def check_dependencies(self, check: DependencyCheck) -> DependencyStatus:
        """Which of the run's dependencies are not yet satisfied."""
        ...

    @activity.defn(name="notify_dependents")
    async def notify_dependents(self, notify: NotifyDependents) -> None:
        """Wake the runs waiting on this task (kept for histories recorded before
        ``finish_run`` did it itself)."""
        ...
