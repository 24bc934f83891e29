"""The shell executor: ``[shell, "-c", command]`` in its own process group."""

from __future__ import annotations

import os
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.parameters import ParameterError, ShellParameters, validate_parameters
from activities.processes import run_process
from activities.running import RunningReporter
from activities.timestamps import to_rfc3339
from persistence.types import utcnow
from settings import Settings
from workflows.payloads import ExecuteTask, ExecutionResult

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_environment() -> dict[str, str]:
    """The minimal environment a task starts from; the worker's own secrets never leak in."""
    return {
        "PATH": BASE_PATH,
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def invalid_parameters(exc: ParameterError) -> ApplicationError:
    return ApplicationError(
        f"{exc.field}: {exc.message}", type="InvalidParameters", non_retryable=True
    )


class ShellExecutor:
    def __init__(self, settings: Settings, reporter: RunningReporter) -> None:
        self._settings = settings
        self._reporter = reporter

    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        """Run the command; stdout is the result, a non-zero exit a retryable failure."""
        info = activity.info()
        started_at = utcnow()
        begun = time.monotonic()
        await self._reporter.report(task.task_run_id, info.attempt, started_at)
        try:
            params = ShellParameters(
                **validate_parameters(
                    "shell",
                    task.parameters,
                    allowed_shells=self._settings.allowed_shells,
                    allowed_paths=self._settings.allowed_paths,
                )
            )
        except ParameterError as exc:
            raise invalid_parameters(exc) from exc
        cwd = params.working_directory
        # One stat of a local directory: not worth a thread hop.
        if cwd is not None and not os.path.isdir(cwd):  # noqa: ASYNC240
            raise ApplicationError(
                f"working_directory {cwd!r} does not exist on worker {self._reporter.worker_id}",
                type="InvalidParameters",
                non_retryable=True,
            )
        outcome = await run_process(
            [params.shell, "-c", params.command],
            cwd=cwd,
            env={**base_environment(), **params.environment},
            output_limit=self._settings.output_limit_bytes,
            grace_seconds=self._settings.kill_grace_seconds,
        )
        result = ExecutionResult(
            worker_id=self._reporter.worker_id,
            attempt=info.attempt,
            started_at=to_rfc3339(started_at),
            duration_ms=int((time.monotonic() - begun) * 1000),
            output=outcome.stdout.text(),
        )
        if outcome.exit_code == 0:
            return result
        result.error = outcome.failure_reason()
        raise ApplicationError(result.error, result, type="CommandFailed")
