"""Secrets at run time: resolved on the worker, masked in what a run reports, absent from
Temporal's history; a secret gone by the time of the run fails it without a retry."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from persistence.models import Secret
from tests.conftest import Stack
from tests.credential_rows import with_sessions
from tests.helpers import Api


def _secret(admin: Api) -> tuple[str, str]:
    name, value = f"TOKEN_{uuid.uuid4().hex[:8]}", f"tok-{uuid.uuid4().hex}"
    response = admin.post("/api/secrets", json={"name": name, "value": value})
    assert response.status_code == 201, response.text
    return name, value


def _history_bytes(stack: Stack, workflow_id: str) -> bytes:
    async def fetch() -> bytes:
        # A plain client, as the Web UI reads: what anyone with Temporal access sees.
        client = await Client.connect(stack.temporal_address)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return history.to_json().encode() + b"".join(
            event.SerializeToString() for event in history.events
        )

    return asyncio.run(fetch())


def test_a_task_printing_its_secret_shows_stars_and_history_holds_no_value(
    stack: Stack, admin: Api, viewer: Api
) -> None:
    name, value = _secret(admin)
    task = admin.create_task(
        parameters={
            # The digest proves the process got the value itself, not the mask.
            "command": 'echo "token=$TOKEN plain=$PLAIN"; printf %s "$TOKEN" | sha256sum',
            "environment": {"TOKEN": {"secret": name}, "PLAIN": "visible"},
        },
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    digest = hashlib.sha256(value.encode()).hexdigest()
    assert run["result"].splitlines() == ["token=*** plain=visible", f"{digest}  -"]
    for response in (
        viewer.get(f"/api/task-runs/{run['id']}"),
        viewer.get(f"/api/tasks/{task['id']}"),
    ):
        assert response.status_code == 200
        assert value not in response.text
    history = _history_bytes(stack, run["workflow_id"])
    assert b"visible" in history  # the history is readable: plain values are there
    assert name.encode() in history  # the reference travels
    assert value.encode() not in history


def test_a_failing_task_masks_its_secret_in_output_and_error(stack: Stack, admin: Api) -> None:
    name, value = _secret(admin)
    task = admin.create_task(
        max_retries=0,
        parameters={
            "command": 'echo "leak $TOKEN"; echo "err $TOKEN" >&2; exit 3',
            "environment": {"TOKEN": {"secret": name}},
        },
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert "leak ***" in run["result"]
    assert value not in run["result"] and value not in (run["error_message"] or "")
    assert value.encode() not in _history_bytes(stack, run["workflow_id"])


def test_a_secret_gone_at_run_time_fails_the_run_without_retry(stack: Stack, admin: Api) -> None:
    name, _ = _secret(admin)
    task = admin.create_task(
        max_retries=3,
        parameters={"command": "echo $TOKEN", "environment": {"TOKEN": {"secret": name}}},
    )

    async def remove(sessions: async_sessionmaker[AsyncSession]) -> None:
        # The API refuses to delete a referenced secret; a restore or a manual edit need not.
        async with sessions() as session, session.begin():
            await session.execute(delete(Secret).where(Secret.name == name))

    with_sessions(stack, remove)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert name in run["error_message"] and "does not exist" in run["error_message"]
    assert run["retry_count"] == 0
