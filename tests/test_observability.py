"""Request ids, request and run logs (text and JSON), and runs you can follow into the Web UI."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from temporalio.client import Client

from tests import temporal
from tests.conftest import Stack
from tests.helpers import Api, eventually
from tests.processes import extra_api, extra_process

# Logs and request ids do not depend on the database: once, on Postgres when available.
pytestmark = pytest.mark.one_backend

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def test_request_id_is_echoed_or_made_up(admin: Api, anonymous: Api) -> None:
    given = f"trace-{uuid.uuid4().hex[:8]}.client/1"
    echoed = admin.get("/api/tasks", headers={"X-Request-ID": given})
    assert echoed.headers["x-request-id"] == given

    for unusable in ("x" * 129, "has space", ""):
        made_up = admin.get("/api/tasks", headers={"X-Request-ID": unusable})
        assert GENERATED_ID.fullmatch(made_up.headers["x-request-id"]), unusable
    first, second = admin.get("/health"), admin.get("/health")
    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]

    failures = [
        anonymous.get("/api/tasks", headers={"X-Request-ID": "e-401"}),
        anonymous.get("/no/such/route", headers={"X-Request-ID": "e-404"}),
        anonymous.delete("/health", headers={"X-Request-ID": "e-405"}),
        admin.get("/api/tasks", params={"page": 0}, headers={"X-Request-ID": "e-422"}),
        admin.post(
            "/api/tasks",
            content=b"{not json",
            headers={"X-Request-ID": "e-400", "Content-Type": "application/json"},
        ),
    ]
    for response in failures:
        status = response.headers["x-request-id"].removeprefix("e-")
        assert str(response.status_code) == status, response.text
        assert response.json()["success"] is False


def test_each_request_is_logged_once_without_secrets(stack: Stack, admin: Api) -> None:
    task = admin.create_task()
    request_id = f"log-{uuid.uuid4().hex}"
    admin.get(f"/api/tasks/{task['id']}", headers={"X-Request-ID": request_id})
    api_log = stack.data_dir / "api.log"

    def logged() -> list[str]:
        return [line for line in api_log.read_text().splitlines() if request_id in line]

    [line] = eventually(logged, timeout=10)
    assert " GET /api/tasks/{task_id} 200 " in line
    assert "user=admin" in line
    assert re.search(r" \d+\.\dms ", line)
    content = api_log.read_text()
    assert admin.token is not None and admin.token not in content
    assert "admin123" not in content
    assert "Bearer" not in content


def test_run_transitions_are_logged(stack: Stack, admin: Api) -> None:
    task = admin.create_task(parameters={"command": "echo logged"})
    run_id = admin.trigger(task["id"])
    assert admin.wait_for_run(run_id)["status"] == "Completed"
    orchestrator_log = stack.data_dir / "orchestrator.log"
    expected = [
        f"run {run_id} of task {task['id']}: {s}" for s in ("Pending", "Dispatched", "Completed")
    ]

    def all_logged() -> bool:
        content = orchestrator_log.read_text()
        return all(line in content for line in expected)

    eventually(all_logged, timeout=10)


def _json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every line is one JSON object with the common keys."""
    records = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        records.append(record)
    return records


def test_json_log_format_in_every_process(stack: Stack) -> None:
    env = {
        "SCHEDULER_LOG_FORMAT": "json",
        # Its own queues, so this orchestrator and worker run exactly this test's run.
        "SCHEDULER_TASK_QUEUE_PREFIX": f"json-{uuid.uuid4().hex[:6]}",
        # Leave the shared stack's schedules alone.
        "SCHEDULER_RECONCILE_INTERVAL_SECONDS": "3600",
        "SCHEDULER_RECONCILE_SETTLE_SECONDS": "1000000",
    }
    request_id = f"json-{uuid.uuid4().hex}"
    with (
        extra_process(
            stack, "json-orchestrator", "worker_main.py", ["--orchestrator"], env
        ) as orchestrator,
        extra_process(
            stack, "json-shell", "worker_main.py", ["--task-type", "shell"], env
        ) as worker,
        extra_api(stack, "json-api", env) as api_process,
    ):
        api = Api(api_process.base_url, "admin")
        try:
            task = api.create_task(parameters={"command": "echo json"})
            response = api.post(
                f"/api/tasks/{task['id']}/trigger", headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 201, response.text
            run_id = response.json()["data"]["task_run_id"]
            assert api.wait_for_run(run_id)["status"] == "Completed"

            def transitions() -> set[str]:
                found = set()
                for line in orchestrator.log_lines():
                    with contextlib.suppress(ValueError):  # a line still being written
                        record = json.loads(line)
                        if record.get("run_id") == run_id and record.get("task_id") == task["id"]:
                            found.add(record["run_status"])
                return found

            eventually(lambda: transitions() == {"Pending", "Dispatched", "Completed"}, 10)
        finally:
            api.close()

    requests = [
        r for r in _json_lines(api_process.log_lines()) if r.get("request_id") == request_id
    ]
    assert len(requests) == 1, requests
    [logged] = requests
    assert logged["method"] == "POST"
    assert logged["route"] == "/api/tasks/{task_id}/trigger"
    assert logged["status"] == 201
    assert logged["user"] == "admin"
    assert isinstance(logged["duration_ms"], int | float)
    assert any(r["logger"].startswith("uvicorn") for r in _json_lines(api_process.log_lines()))
    assert _json_lines(orchestrator.log_lines())
    assert any("polling" in r["message"] for r in _json_lines(worker.log_lines()))


async def _trigger_schedule(address: str, task_id: int) -> None:
    client = await Client.connect(address)
    await client.get_schedule_handle(f"task-{task_id}").trigger()


def test_runs_link_into_the_temporal_web_ui(stack: Stack, admin: Api) -> None:
    ui = stack.env["SCHEDULER_TEMPORAL_UI_URL"]
    task = admin.create_task(parameters={"command": "echo ui"})
    manual = admin.wait_for_run(admin.trigger(task["id"]))
    asyncio.run(_trigger_schedule(stack.temporal_address, task["id"]))

    def scheduled_run() -> dict[str, Any] | None:
        items = admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]["items"]
        fired = [run for run in items if run["trigger"] == "schedule"]
        return fired[0] if fired and fired[0]["temporal_run_id"] else None

    scheduled = eventually(scheduled_run, timeout=30)
    for run in (manual, scheduled):
        workflow_id, run_id = run["workflow_id"], run["temporal_run_id"]
        assert run["temporal_ui_url"] == (
            f"{ui}/namespaces/default/workflows/{quote(workflow_id, safe='')}/{run_id}/history"
        )
        page = eventually(functools.partial(_get_ok, run["temporal_ui_url"]), timeout=30)
        assert "text/html" in page.headers["content-type"]
        # The UI's own API, behind the same address, knows this very execution.
        described = httpx.get(
            f"{ui}/api/v1/namespaces/default/workflows/{quote(workflow_id, safe='')}",
            params={"execution.runId": run_id},
            timeout=10,
        )
        assert described.status_code == 200, described.text
        execution = described.json()["workflowExecutionInfo"]["execution"]
        assert execution == {"workflowId": workflow_id, "runId": run_id}

    detail = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert {r["temporal_ui_url"] for r in detail["recent_runs"]} == {
        manual["temporal_ui_url"],
        scheduled["temporal_ui_url"],
    }

    def listed() -> set[tuple[str, str]] | None:
        found = temporal.list_workflows(stack.temporal_address, f"TaskId = {task['id']}")
        pairs = {(wf.id, wf.run_id) for wf in found}
        return pairs if len(pairs) == 2 else None

    assert eventually(listed, timeout=30) == {
        (manual["workflow_id"], manual["temporal_run_id"]),
        (scheduled["workflow_id"], scheduled["temporal_run_id"]),
    }


def _get_ok(url: str) -> httpx.Response | None:
    try:
        response = httpx.get(url, timeout=10)
    except httpx.HTTPError:
        return None
    return response if response.status_code == 200 else None
