"""The executor activities, one per task type, as ``TaskRunWorkflow`` calls them.

Each runs on its task type's own queue (``<prefix>-<task_type>``), on executor
workers that spawn processes and open sockets; the orchestrator needs only
each one's name and payload types. The workflow calls them through these
declarations, and ``activities/shell.py``, ``http.py`` and ``python.py``
implement them under the same names. The names are recorded in workflow
histories: they never change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from temporalio import activity

from workflows.payloads import ExecuteTask, ExecutionResult

ExecutorActivity = Callable[[ExecuteTask], Awaitable[ExecutionResult]]
"""What a worker registers as a task type's executor."""


class Executors(Protocol):
    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        """Run a shell task's command in its own process group."""
        ...

    @activity.defn(name="run_http")
    async def run_http(self, task: ExecuteTask) -> ExecutionResult:
        """Send an HTTP task's request (following checked redirects)."""
        ...

    @activity.defn(name="run_python")
    async def run_python(self, task: ExecuteTask) -> ExecutionResult:
        """Run a Python task's script with its interpreter."""
        ...


BY_TASK_TYPE: dict[str, Callable[[Executors, ExecuteTask], Awaitable[ExecutionResult]]] = {
    "shell": Executors.run_shell,
    "http": Executors.run_http,
    "python": Executors.run_python,
}
"""The executor of each task type the API accepts (``domain.parameters.SUPPORTED_TASK_TYPES``)."""
