"""The shell executor: ``[shell, "-c", command]`` in its own process group."""

from __future__ import annotations

from temporalio import activity

from activities.attempt import Attempt, AttemptTracker
from activities.environment import ExecutionContext
from domain.parameters import ShellParameters
from domain.secret_refs import texts
from workflows.payloads import ExecuteTask, ExecutionResult


class ShellExecutor:
    """Implements ``workflows.executors.Executors.run_shell``."""

    def __init__(self, context: ExecutionContext, tracker: AttemptTracker) -> None:
        self._context = context
        self._tracker = tracker

    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        """Run the command; stdout is the result, a non-zero exit a retryable failure."""

        async def body(attempt: Attempt) -> ExecutionResult:
            params = await self._context.parameters(attempt, "shell", task, ShellParameters)
            cwd = self._context.working_directory(attempt, params.working_directory)
            outcome = await self._context.run(
                [params.shell, "-c", params.command], cwd=cwd, environment=texts(params.environment)
            )
            return attempt.from_process(outcome)

        return await self._tracker.execute(task, body)
