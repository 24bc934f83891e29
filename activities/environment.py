"""What the program-running executors share: parameters re-checked on the worker,
the minimal environment, the working directory, and the process runner."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TypeVar

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from activities.attempt import Attempt
from activities.secret_values import SecretMissing, SecretResolver
from domain import failures
from domain.parameters import ParameterError, check_path, validate_parameters
from domain.secret_refs import Masker, referenced_names, substitute
from processes.identity import RunAs
from processes.limits import TaskLimits
from processes.orphans import OrphanSweeper
from processes.spawn import GroupRegistry, ProcessOutcome, run_process
from settings import TASK_PATH, Settings
from workflows.payloads import ExecuteTask

BASE_PATH = TASK_PATH

P = TypeVar("P", bound=msgspec.Struct)


def base_environment() -> dict[str, str]:
    """The minimal environment a task starts from; the worker's own secrets never leak in."""
    return {
        "PATH": BASE_PATH,
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }


def task_limits(settings: Settings) -> TaskLimits:
    """The ``SCHEDULER_TASK_MAX_*`` limits of every task process of this worker."""
    return TaskLimits(
        memory_mb=settings.task_max_memory_mb,
        processes=settings.task_max_processes,
        open_files=settings.task_max_open_files,
        cpu_seconds=settings.task_max_cpu_seconds,
    )


class ExecutionContext:
    """The worker's rules and limits, applied the same way by every executor."""

    def __init__(
        self,
        settings: Settings,
        watchdog: GroupRegistry,
        sweeper: OrphanSweeper,
        run_as: RunAs | None,
        secrets: SecretResolver,
    ) -> None:
        self.settings = settings
        self._secrets = secrets
        self._watchdog = watchdog
        self._sweeper = sweeper
        self._run_as = run_as
        self._limits = task_limits(settings)
        self._command_prefix = self._limits.command_prefix()

    async def parameters(
        self, attempt: Attempt, task_type: str, task: ExecuteTask, schema: type[P]
    ) -> P:
        """The task's parameters with their secrets resolved, validated again here.

        This worker's allowlists apply, and the values of the secrets are
        checked as the values they are (a header value without CR or LF).
        From here on the attempt masks every resolved value in what it reports.
        """
        raw = task.parameters
        names = referenced_names(raw)
        if names:
            try:
                values = await self._secrets.values(names)
            except SecretMissing as exc:
                raise attempt.failed(
                    str(exc), kind=failures.SECRET_MISSING, retryable=False
                ) from None
            except (SQLAlchemyError, OSError) as exc:
                raise attempt.failed(
                    f"could not read the task's secrets: {type(exc).__name__}"
                ) from None
            attempt.mask = Masker(values.values())
            raw = substitute(raw, values)
        try:
            canonical = validate_parameters(task_type, raw, self.settings.parameter_rules)
        except ParameterError as exc:
            raise attempt.invalid(exc) from None
        return msgspec.convert(canonical, type=schema)

    def resolved(self, attempt: Attempt, field: str, path: str) -> str:
        """``path`` with its symlinks resolved now, checked again against the allowed paths.

        The API checked the path as it resolved then; a link re-pointed since
        is caught here, and the program is given the resolved path, so what
        was checked is what runs.
        """
        try:
            return check_path(field, os.path.realpath(path), self.settings.allowed_paths)
        except ParameterError as exc:
            raise attempt.invalid(exc) from exc

    def working_directory(self, attempt: Attempt, path: str | None) -> str | None:
        if path is None:
            return None
        resolved = self.resolved(attempt, "parameters.working_directory", path)
        if not os.path.isdir(resolved):
            raise attempt.invalid(
                ParameterError(
                    "parameters.working_directory",
                    f"{path!r} does not exist on worker {attempt.worker_id}",
                )
            )
        return resolved

    async def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None,
        environment: Mapping[str, str],
        base: Mapping[str, str] | None = None,
    ) -> ProcessOutcome:
        return await run_process(
            argv,
            cwd=cwd,
            env={**(base if base is not None else base_environment()), **environment},
            output_limit=self.settings.output_limit_bytes,
            grace_seconds=self.settings.kill_grace_seconds,
            watchdog=self._watchdog,
            sweeper=self._sweeper,
            run_as=self._run_as,
            limits=self._limits,
            command_prefix=self._command_prefix,
        )
