"""Cancelling a run: the work is killed and the run ends Failed, naming who cancelled it."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.helpers import Api, assert_error, eventually
from tests.test_runs import processes_matching

# The executors and the worker processes behave alike on either database (the
# mirror's SQL has its own tests on both): once, on Postgres when available.
pytestmark = pytest.mark.one_backend


def test_cancel_mid_run_kills_the_work(admin: Api) -> None:
    marker = f"{uuid.uuid4().int % 1000 + 2000}.{os.getpid()}"
    task = admin.create_task(parameters={"command": f"sleep {marker} & sleep {marker}"})
    run_id = admin.trigger(task["id"])
    eventually(lambda: admin.run(run_id)["status"] == "Running", timeout=30)
    eventually(lambda: processes_matching(f"sleep {marker}"), timeout=10)
    response = admin.post(f"/api/task-runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["data"]["task_run_id"] == run_id
    run = admin.wait_for_run(run_id, timeout=30)
    assert run["status"] == "Failed"
    assert run["error_message"] == "cancelled by admin"
    # The run is recorded as cancelled only once its processes are gone.
    assert not processes_matching(f"sleep {marker}")


def test_cancel_a_run_waiting_on_a_dependency(admin: Api, operator: Api) -> None:
    upstream = admin.create_task()
    downstream = admin.create_task(dependencies=[upstream["id"]])
    run_id = admin.trigger(downstream["id"])
    eventually(lambda: admin.run(run_id)["status"] == "Pending", timeout=10)
    assert operator.post(f"/api/task-runs/{run_id}/cancel").status_code == 202
    run = admin.wait_for_run(run_id, timeout=20)
    assert run["status"] == "Failed"
    assert run["error_message"] == "cancelled by operator"
    assert run["started_at"] is None


def test_cancel_refusals(admin: Api, viewer: Api) -> None:
    task = admin.create_task(parameters={"command": "true"})
    run_id = admin.trigger(task["id"])
    assert admin.wait_for_run(run_id)["status"] == "Completed"
    body = assert_error(admin.post(f"/api/task-runs/{run_id}/cancel"), 409, "TASK_RUN_FINISHED")
    assert body["error"]["details"]["status"] == "Completed"
    assert admin.run(run_id)["status"] == "Completed"
    assert_error(admin.post("/api/task-runs/987654321/cancel"), 404, "TASK_RUN_NOT_FOUND")
    assert_error(viewer.post(f"/api/task-runs/{run_id}/cancel"), 403, "INSUFFICIENT_PERMISSIONS")
