"""Running one ``TaskRunWorkflow`` on a fresh task queue with the activity doubles."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from tests.workflows.doubles import Mirror
from workflows.payloads import ExecuteTask, ExecutionResult, RunInput, RunOutcome, RunPlan
from workflows.task_run import TaskRunWorkflow


class ShellDouble(Protocol):
    """What stands in for the shell executor: the doubles' ``Executor``, or a real tracker."""

    async def run_shell(self, task: ExecuteTask) -> ExecutionResult: ...


def plan(**fields: object) -> RunPlan:
    """A run plan of a shell task with quick retries; ``fields`` change it."""
    base = RunPlan(
        task_run_id=11,
        task_id=1,
        task_type="shell",
        parameters={"command": "true"},
        timeout_seconds=30,
        max_retries=0,
        executor_queue="set-by-the-harness",
        heartbeat_timeout_seconds=1.0,
        retry_initial_interval_seconds=0.1,
        retry_backoff_coefficient=1.0,
        retry_maximum_interval_seconds=0.1,
        dependency_recheck_seconds=30.0,
        lost_attempt_retries=2,
        patches_applied=True,  # as the orchestrator's begin_run plans every run now
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@dataclass
class Running:
    client: Client
    queue: str
    handle: WorkflowHandle[TaskRunWorkflow, RunOutcome]


@dataclass
class Serving:
    client: Client
    queue: str


@asynccontextmanager
async def serving(
    temporal: tuple[str, str], mirror: Mirror, executor: ShellDouble
) -> AsyncIterator[Serving]:
    """An in-process worker running ``TaskRunWorkflow`` with the doubles on a queue of its own."""
    address, namespace = temporal
    client = await Client.connect(address, namespace=namespace)
    queue = f"wf-test-{uuid.uuid4().hex[:8]}"
    # One queue for the workflow, its local mirror activities and the executor.
    mirror.plan = replace(mirror.plan, executor_queue=queue)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TaskRunWorkflow],
        activities=[*mirror.activities(), executor.run_shell],
    ):
        yield Serving(client=client, queue=queue)


@asynccontextmanager
async def running(
    temporal: tuple[str, str], mirror: Mirror, executor: ShellDouble
) -> AsyncIterator[Running]:
    """``serving``, and the run's workflow started on it as a manual trigger starts it."""
    async with serving(temporal, mirror, executor) as served:
        client, queue = served.client, served.queue
        handle = await client.start_workflow(
            TaskRunWorkflow.run,
            RunInput(task_id=mirror.plan.task_id, task_run_id=mirror.plan.task_run_id),
            id=f"task-{mirror.plan.task_id}-manual-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        yield Running(client=client, queue=queue, handle=handle)
