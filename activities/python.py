"""The Python executor: ``[interpreter, script_path, *arguments]``, never a shell string."""

from __future__ import annotations

import os
import shutil

from temporalio import activity

from activities.attempt import Attempt, AttemptTracker
from activities.environment import BASE_PATH, ExecutionContext, base_environment
from domain.parameters import ParameterError, PythonParameters, check_interpreter
from domain.secret_refs import texts
from workflows.payloads import ExecuteTask, ExecutionResult


def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


class PythonExecutor:
    """Implements ``workflows.executors.Executors.run_python``."""

    def __init__(self, context: ExecutionContext, tracker: AttemptTracker) -> None:
        self._context = context
        self._tracker = tracker

    def _interpreter(
        self, attempt: Attempt, params: PythonParameters
    ) -> tuple[str, dict[str, str]]:
        """The interpreter to run and the base environment it runs in."""
        base = base_environment()
        if params.virtual_env is not None:
            venv = self._context.resolved(attempt, "parameters.virtual_env", params.virtual_env)
            # Not resolved further: a virtual env's python knows its env by the path it is run as.
            interpreter = os.path.join(venv, "bin", "python")
            field = "parameters.virtual_env"
            base["VIRTUAL_ENV"] = venv
            base["PATH"] = f"{os.path.join(venv, 'bin')}:{BASE_PATH}"
        elif params.python_executable is not None:
            interpreter, field = params.python_executable, "parameters.python_executable"
        else:
            found = shutil.which("python3", path=BASE_PATH)
            if found is None:
                raise attempt.invalid(
                    ParameterError(
                        "parameters.python_executable",
                        f"no python3 on worker {attempt.worker_id}; name an interpreter",
                    )
                )
            interpreter, field = found, "parameters.python_executable"
            try:
                check_interpreter(field, found, self._context.settings.parameter_rules)
            except ParameterError as exc:
                raise attempt.invalid(exc) from exc
        if not _executable(interpreter):
            raise attempt.invalid(
                ParameterError(
                    field, f"{interpreter!r} is not an executable on worker {attempt.worker_id}"
                )
            )
        return interpreter, base

    @activity.defn(name="run_python")
    async def run_python(self, task: ExecuteTask) -> ExecutionResult:
        """Run the script; stdout is the result, a non-zero exit a retryable failure."""

        async def body(attempt: Attempt) -> ExecutionResult:
            params = await self._context.parameters(attempt, "python", task, PythonParameters)
            interpreter, base = self._interpreter(attempt, params)
            script = self._context.resolved(attempt, "parameters.script_path", params.script_path)
            if not _is_file(script):
                raise attempt.invalid(
                    ParameterError(
                        "parameters.script_path",
                        f"{params.script_path!r} does not exist on worker {attempt.worker_id}",
                    )
                )
            cwd = self._context.working_directory(attempt, params.working_directory)
            outcome = await self._context.run(
                [interpreter, script, *params.arguments],
                cwd=cwd,
                environment=texts(params.environment),
                base=base,
            )
            return attempt.from_process(outcome)

        return await self._tracker.execute(task, body)
