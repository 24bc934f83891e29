"""Starting a triggered run's workflow, idempotently: the seam the start outbox relays through.

The workflow id is derived from the run id (``task-<task>-manual-<run>``) and
Temporal rejects a second start of it, running or closed, so starting an
entry twice (the API and the relay, or a relay after a crash) starts one
workflow and both calls succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows import search_attributes
from workflows.payloads import RunInput
from workflows.task_run import TaskRunWorkflow


@dataclass(frozen=True, slots=True)
class RunToStart:
    """What starting a run's workflow needs: the run and the task it belongs to."""

    task_id: int
    task_name: str
    task_type: str
    task_run_id: int
    workflow_id: str
    trigger: str


class RunStarter:
    """Starts triggered runs in Temporal; each start may be repeated safely."""

    def __init__(self, client: Client, orchestrator_queue: str) -> None:
        self._client = client
        self._queue = orchestrator_queue

    async def start_run(self, run: RunToStart) -> bool:
        """Start the run's workflow; False when Temporal already had it (started before)."""
        try:
            await self._client.start_workflow(
                TaskRunWorkflow.run,
                RunInput(task_id=run.task_id, task_run_id=run.task_run_id),
                id=run.workflow_id,
                task_queue=self._queue,
                # A closed workflow of this id is this run already executed: not again.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=search_attributes.for_task(
                    run.task_id, run.task_name, run.task_type
                ),
                memo={"task_id": run.task_id, "task_name": run.task_name, "trigger": run.trigger},
                static_summary=(
                    f"{run.trigger} run {run.task_run_id} of {run.task_type} task {run.task_name!r}"
                ),
            )
        except WorkflowAlreadyStartedError:
            return False
        return True
