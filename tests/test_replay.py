"""Workflow histories replay under Temporal's sandbox.

The orchestrator runs ``TaskRunWorkflow`` without the sandbox (it re-imported
the workflow module for every run: a quarter of the orchestrator's CPU). This
test keeps the sandbox's guarantees: real histories of every path a run can
take are replayed with the default, sandboxed runner, which fails on
non-deterministic code and on calls the sandbox forbids. They replay through
the deployment's signing data converter, as the orchestrator decodes them;
a history written before payloads were signed (a run in flight at the
upgrade) replays inside the ``SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL`` window
and is refused outside it.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from settings import Settings
from tests.conftest import Stack
from tests.helpers import Api, eventually
from workflows.data_converter import data_converter
from workflows.payloads import BeginRun, ExecuteTask, ExecutionResult, FinishRun, RunInput, RunPlan
from workflows.task_run import TaskRunWorkflow

pytestmark = pytest.mark.one_backend


async def _histories(address: str, workflow_ids: list[str]) -> list[WorkflowHistory]:
    client = await Client.connect(address)
    return [await client.get_workflow_handle(wid).fetch_history() for wid in workflow_ids]


async def _replay(histories: list[WorkflowHistory], settings: Settings) -> list[str]:
    """The failures of replaying ``histories`` with the default (sandboxed) runner."""
    replayer = Replayer(workflows=[TaskRunWorkflow], data_converter=data_converter(settings))
    failures = []
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            failures.append(f"{history.workflow_id}: {result.replay_failure!r}")
    return failures


def test_histories_of_every_run_path_replay_in_the_sandbox(stack: Stack, admin: Api) -> None:
    completed = admin.create_task(parameters={"command": "echo ok"})
    failing = admin.create_task(parameters={"command": "exit 3"}, max_retries=1)
    slow = admin.create_task(parameters={"command": "sleep 30"}, timeout_seconds=1)
    upstream = admin.create_task()
    downstream = admin.create_task(dependencies=[upstream["id"]])
    never = admin.create_task(dependencies=[slow["id"]], dependency_timeout_seconds=600)
    running = admin.create_task(parameters={"command": "sleep 60"})

    waiting_run = admin.trigger(downstream["id"])
    cancelled_pending = admin.trigger(never["id"])
    cancelled_running = admin.trigger(running["id"])
    runs = [
        admin.trigger(completed["id"]),
        admin.trigger(failing["id"]),
        admin.trigger(slow["id"]),
        waiting_run,
        cancelled_pending,
        cancelled_running,
    ]
    eventually(lambda: admin.run(waiting_run)["status"] == "Pending", timeout=20)
    runs.append(admin.trigger(upstream["id"]))
    eventually(lambda: admin.run(cancelled_running)["status"] == "Running", timeout=20)
    for run_id in (cancelled_pending, cancelled_running):
        assert admin.post(f"/api/task-runs/{run_id}/cancel").status_code == 202

    finished = {run_id: admin.wait_for_run(run_id, timeout=60) for run_id in runs}
    statuses = sorted(run["status"] for run in finished.values())
    assert statuses == sorted(
        ["Completed", "Failed", "Timeout", "Completed", "Failed", "Failed", "Completed"]
    )

    histories = asyncio.run(
        _histories(stack.temporal_address, [run["workflow_id"] for run in finished.values()])
    )
    assert len(histories) == len(runs)
    assert all(len(history.events) > 5 for history in histories)
    assert asyncio.run(_replay(histories, Settings.from_env(stack.env))) == []


@activity.defn(name="begin_run")
async def _begin_run(start: BeginRun) -> RunPlan:
    return RunPlan(
        task_run_id=1,
        task_id=start.task_id,
        task_type="shell",
        parameters={"command": "true"},
        timeout_seconds=30,
        max_retries=0,
        executor_queue=activity.info().task_queue,
        heartbeat_timeout_seconds=10,
        retry_initial_interval_seconds=1,
        retry_backoff_coefficient=2,
        retry_maximum_interval_seconds=1,
        dispatched=True,
    )


@activity.defn(name="run_shell")
async def _run_shell(task: ExecuteTask) -> ExecutionResult:
    return ExecutionResult(
        worker_id="old", attempt=1, started_at="2026-01-01T00:00:00Z", duration_ms=1
    )


@activity.defn(name="finish_run")
async def _finish_run(finish: FinishRun) -> None:
    return None


async def _unsigned_history(address: str) -> WorkflowHistory:
    """A run's history as a release without signatures wrote it (default converter)."""
    client = await Client.connect(address)
    queue = f"unsigned-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TaskRunWorkflow],
        activities=[_begin_run, _run_shell, _finish_run],
    ):
        handle = await client.start_workflow(
            TaskRunWorkflow.run, RunInput(task_id=1), id=f"unsigned-{queue}", task_queue=queue
        )
        await handle.result()
    return await handle.fetch_history()


def test_a_run_in_flight_at_the_upgrade_replays_only_inside_the_window(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    history = asyncio.run(_unsigned_history(stack.temporal_address))
    settings = Settings.from_env(stack.env)
    window = replace(settings, payload_accept_unsigned_until=datetime.now(UTC) + timedelta(hours=1))
    assert asyncio.run(_replay([history], window)) == []
    assert "carries no signature" not in caplog.text
    # Past the window the orchestrator refuses the unsigned input: the workflow
    # would fail instead of completing as its history says.
    [refused] = asyncio.run(_replay([history], settings))
    assert "Nondeterminism" in refused
    assert f"refused workflow {history.workflow_id} from Temporal: it carries no signature" in (
        caplog.text
    )
