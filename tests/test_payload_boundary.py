"""The Temporal boundary, end to end: reaching Temporal's port is not enough to run anything.

A client without the payload key (or with another key) starts our workflow on
the orchestrator queue, or schedules our executor's activity directly on the
shell queue: the workers refuse it, non-retryably, and no process starts (the
command would write a marker file; it never appears). Runs of our own stay
readable in Temporal's history: the payload JSON is in clear beside its signature.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from settings import Settings, parse_payload_keys
from tests.conftest import Stack, running_stack
from tests.helpers import Api, assert_error, eventually
from workflows.data_converter import data_converter
from workflows.payload_codec import ENCRYPTED, KEY_ID, SIGNATURE, UNSIGNED_PAYLOAD
from workflows.payloads import ExecuteTask, RunInput

pytestmark = pytest.mark.one_backend


@workflow.defn(sandboxed=False)
class ForgedDispatch:
    """What an intruder would run: our executor's activity, on our queue, with its own input."""

    @workflow.run
    async def run(self, queue: str, task: ExecuteTask) -> dict[str, Any]:
        try:
            await workflow.execute_activity(
                "run_shell",
                task,
                task_queue=queue,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
            )
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return {
                "type": cause.type,
                "non_retryable": cause.non_retryable,
                "message": cause.message,
            }
        return {"type": None}


async def _intruder(stack: Stack, kind: str) -> Client:
    """A client of the stack's Temporal with no payload key, or with a key of its own."""
    if kind == "no key":
        return await Client.connect(stack.temporal_address)
    settings = Settings.from_env(stack.env)
    # Same key id as the deployment's, another secret: a guess at the key.
    forged = replace(settings, payload_keys=parse_payload_keys(f"k1:{uuid.uuid4().hex}"))
    return await Client.connect(stack.temporal_address, data_converter=data_converter(forged))


def _marker_task(admin: Api, marker: Path) -> dict[str, Any]:
    return admin.create_task(parameters={"command": f"touch {marker}"})


@pytest.mark.parametrize("kind", ["no key", "another key"])
def test_a_workflow_started_without_the_key_runs_nothing(
    stack: Stack, admin: Api, kind: str
) -> None:
    marker = stack.task_dir / f"ran-{uuid.uuid4().hex[:8]}"
    task = _marker_task(admin, marker)

    async def start() -> BaseException | None:
        client = await _intruder(stack, kind)
        handle = await client.start_workflow(
            "TaskRunWorkflow",
            RunInput(task_id=task["id"]),
            id=f"forged-{uuid.uuid4().hex[:8]}",
            task_queue=f"{stack.queue_prefix}-orchestrator",
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), timeout=30)
        return failed.value.cause

    cause = asyncio.run(start())
    assert isinstance(cause, ApplicationError)
    assert cause.type == UNSIGNED_PAYLOAD
    assert "refused a Temporal payload" in cause.message
    # No mirror row was written, nothing was dispatched, no process ran.
    runs = admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]
    assert runs["total"] == 0
    assert not marker.exists()
    # The same task, triggered through the API, runs: the workers are not simply broken.
    assert admin.wait_for_run(admin.trigger(task["id"]))["status"] == "Completed"
    assert marker.exists()


@pytest.mark.parametrize("kind", ["no key", "another key"])
def test_an_activity_scheduled_without_the_key_fails_at_once_and_starts_no_process(
    stack: Stack, admin: Api, kind: str
) -> None:
    marker = stack.task_dir / f"ran-{uuid.uuid4().hex[:8]}"
    task = _marker_task(admin, marker)

    async def dispatch() -> dict[str, Any]:
        client = await _intruder(stack, kind)
        queue = f"intruder-{uuid.uuid4().hex[:8]}"
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ForgedDispatch],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            result: dict[str, Any] = await client.execute_workflow(
                ForgedDispatch.run,
                args=[
                    f"{stack.queue_prefix}-shell",
                    ExecuteTask(
                        task_run_id=10**9,
                        task_id=task["id"],
                        parameters={"command": f"touch {marker}"},
                        timeout_seconds=30,
                    ),
                ],
                id=f"forged-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=60),
            )
            return result

    refused = asyncio.run(dispatch())
    assert refused["type"] == UNSIGNED_PAYLOAD
    assert refused["non_retryable"] is True
    assert "SCHEDULER_PAYLOAD_KEY" in refused["message"]
    assert not marker.exists()
    log = (stack.data_dir / "shell.log").read_text()
    assert "refused activity run_shell" in log


def test_run_history_stays_readable_and_every_payload_is_signed(stack: Stack, admin: Api) -> None:
    task = admin.create_task(parameters={"command": "echo readable"})
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed"

    async def history() -> Any:
        # A plain client, as the Web UI reads: no key, no codec.
        client = await Client.connect(stack.temporal_address)
        return await client.get_workflow_handle(run["workflow_id"]).fetch_history()

    events = asyncio.run(history()).events
    started = events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == b"json/plain"
    assert json.loads(started.data) == {"task_id": task["id"], "task_run_id": run["id"]}
    assert started.metadata[KEY_ID] == b"k1"
    assert len(started.metadata[SIGNATURE]) == 32
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    [dispatch] = [s for s in scheduled if s.activity_type.name == "run_shell"]
    payload = dispatch.input.payloads[0]
    assert json.loads(payload.data)["parameters"] == {"command": "echo readable"}
    assert SIGNATURE in payload.metadata


@pytest.fixture(scope="module")
def sealed_stack() -> Iterator[Stack]:
    # Only a shell task runs on it.
    sealed = {"SCHEDULER_PAYLOAD_ENCRYPTION": "1"}
    with running_stack("sqlite", env_overrides=sealed, executors=("shell",)) as running:
        yield running


def _history_payloads(stack: Stack, workflow_id: str) -> list[Payload]:
    async def fetch() -> list[Payload]:
        client = await Client.connect(stack.temporal_address)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        scheduled = [
            e.activity_task_scheduled_event_attributes.input.payloads[0]
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
        return [started.input.payloads[0], *scheduled]

    return asyncio.run(fetch())


def test_sealed_payloads_are_opaque_in_temporal_and_open_through_the_codec_endpoint(
    sealed_stack: Stack,
) -> None:
    admin, viewer, anonymous = (sealed_stack.api(user) for user in ("admin", "viewer", None))
    task = admin.create_task(parameters={"command": "echo sealed-$((6*7))"})
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed"
    assert run["result"].strip() == "sealed-42"

    payloads = _history_payloads(sealed_stack, run["workflow_id"])
    assert len(payloads) == 2  # the workflow's input, the shell activity's input
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCRYPTED
        assert b"sealed" not in payload.data
        assert SIGNATURE in payload.metadata

    body = {"payloads": [json_format.MessageToDict(p) for p in payloads]}
    answer = viewer.post("/api/codec/decode", json=body)
    assert answer.status_code == 200, answer.text
    opened = [json_format.ParseDict(p, Payload()) for p in answer.json()["payloads"]]
    assert [p.metadata["encoding"] for p in opened] == [b"json/plain", b"json/plain"]
    assert json.loads(opened[0].data) == {"task_id": task["id"], "task_run_id": run["id"]}
    assert json.loads(opened[1].data)["parameters"] == {"command": "echo sealed-$((6*7))"}
    assert all(SIGNATURE not in p.metadata for p in opened)

    # A payload nobody signed is shown as it is, never opened or signed.
    plain = json_format.MessageToDict(DataConverter.default.payload_converter.to_payload("hi"))
    echoed = viewer.post("/api/codec/decode", json={"payloads": [plain]}).json()["payloads"]
    assert echoed == [plain]

    assert_error(anonymous.post("/api/codec/decode", json=body), 401, "AUTHENTICATION_REQUIRED")
    assert_error(viewer.post("/api/codec/decode", content=b"[1"), 400, "VALIDATION_ERROR")
    assert viewer.post("/api/codec/encode", json=body).status_code in {404, 405}


def test_the_codec_endpoint_answers_cors_for_the_web_ui_origin_only(sealed_stack: Stack) -> None:
    ui_origin = sealed_stack.env["SCHEDULER_TEMPORAL_UI_URL"]
    anonymous = sealed_stack.api(None)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-namespace",
    }
    allowed = anonymous.request(
        "OPTIONS", "/api/codec/decode", headers={"Origin": ui_origin, **preflight}
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ui_origin
    assert "x-namespace" in allowed.headers["access-control-allow-headers"]
    other = anonymous.request(
        "OPTIONS", "/api/codec/decode", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers
    viewer = sealed_stack.api("viewer")
    answer = viewer.post(
        "/api/codec/decode", json={"payloads": []}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    answer = viewer.post("/api/codec/decode", json={"payloads": []}, headers={"Origin": ui_origin})
    assert answer.headers["access-control-allow-origin"] == ui_origin
    # Every other route stays closed to the Web UI's origin.
    tasks = viewer.get("/api/tasks", headers={"Origin": ui_origin})
    assert "access-control-allow-origin" not in tasks.headers


def test_an_unsigned_signal_changes_nothing_it_asks_for(stack: Stack, admin: Api) -> None:
    """A forged ``cancel_run`` does not cancel by its own word: the run fails as refused."""
    task = admin.create_task(parameters={"command": "sleep 30"})
    run_id = admin.trigger(task["id"])
    running = eventually(lambda: (r := admin.run(run_id))["status"] == "Running" and r, timeout=30)

    async def signal() -> BaseException | None:
        client = await Client.connect(stack.temporal_address)
        handle = client.get_workflow_handle(running["workflow_id"])
        await handle.signal("cancel_run", "intruder")
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), timeout=30)
        return failed.value.cause

    cause = asyncio.run(signal())
    assert isinstance(cause, ApplicationError)
    assert cause.type == UNSIGNED_PAYLOAD
    final = admin.wait_for_run(run_id, timeout=60)
    assert final["status"] == "Failed"
    assert "intruder" not in (final["error_message"] or "")
