"""Workflow histories replay under Temporal's sandbox.

The orchestrator runs ``TaskRunWorkflow`` without the sandbox (it re-imported
the workflow module for every run: a quarter of the orchestrator's CPU). This
test keeps the sandbox's guarantees: real histories of every path a run can
take are replayed with the default, sandboxed runner, which fails on
non-deterministic code and on calls the sandbox forbids. They replay through
the deployment's signing data converter, as the orchestrator decodes them.
"""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from settings import Settings
from tests.conftest import Stack
from tests.helpers import Api, eventually
from workflows.data_converter import data_converter
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
