"""With Temporal unreachable, task writes answer 503 and leave nothing half-written;
triggers and backfills are accepted and started by the orchestrator's relay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import devstack
from tests.conftest import Stack
from tests.helpers import Api, assert_error, unique


@pytest.fixture(scope="module")
def api_without_temporal(stack: Stack) -> Iterator[Api]:
    """A second API process on the same database, pointed at a port where no Temporal runs
    (one per module and backend: each start costs seconds)."""
    port = devstack.free_port()
    env = {
        **stack.env,
        "SCHEDULER_API_PORT": str(port),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{devstack.free_port()}",
    }
    with open(stack.data_dir / "api-without-temporal.log", "wb") as log:
        process = devstack.start_python("api_main.py", [], env, log)
        try:
            devstack.wait_for_http(f"http://127.0.0.1:{port}/health", 60, process)
            api = Api(f"http://127.0.0.1:{port}", "admin")
            yield api
            api.close()
        finally:
            devstack.stop(process)


def test_create_update_delete_answer_503_and_write_nothing(
    api_without_temporal: Api, admin: Api
) -> None:
    name = unique("no-temporal")
    body = {
        "name": name,
        "task_type": "shell",
        "schedule": "0 0 1 1 *",
        "parameters": {"command": "true"},
    }
    assert_error(api_without_temporal.post("/api/tasks", json=body), 503, "MESSAGE_QUEUE_ERROR")
    listed = admin.get("/api/tasks", params={"name": name}).json()["data"]
    assert listed["total"] == 0

    existing = admin.create_task()
    response = api_without_temporal.patch(
        f"/api/tasks/{existing['id']}", json={"schedule": "5 5 * * *", "status": "Inactive"}
    )
    assert_error(response, 503, "MESSAGE_QUEUE_ERROR")
    unchanged = admin.get(f"/api/tasks/{existing['id']}").json()["data"]
    assert unchanged["schedule"] == existing["schedule"]
    assert unchanged["status"] == "Active"

    assert_error(
        api_without_temporal.delete(f"/api/tasks/{existing['id']}"), 503, "MESSAGE_QUEUE_ERROR"
    )
    assert admin.get(f"/api/tasks/{existing['id']}").status_code == 200
    # Reads never need Temporal.
    assert api_without_temporal.get(f"/api/tasks/{existing['id']}").status_code == 200


def test_a_trigger_is_accepted_and_the_relay_starts_it(
    api_without_temporal: Api, admin: Api
) -> None:
    """This API cannot reach Temporal; the stack's orchestrator can, and its relay starts it."""
    task = admin.create_task(parameters={"command": "echo relayed"})
    response = api_without_temporal.post(f"/api/tasks/{task['id']}/trigger")
    assert response.status_code == 201, response.text
    run_id = response.json()["data"]["task_run_id"]
    run = admin.wait_for_run(run_id)
    assert run["status"] == "Completed"
    assert run["result"].strip() == "relayed"
    assert run["workflow_id"] == f"task-{task['id']}-manual-{run_id}"
    assert admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]["total"] == 1

    # Waited on through the API that cannot watch the workflow: it re-reads the row
    # until the relay's run has ended (one more API process would cost seconds).
    response = api_without_temporal.post(f"/api/tasks/{task['id']}/trigger", params={"wait": 60})
    assert response.status_code == 201, response.text
    assert "X-Run-Wait" not in response.headers
    waited = response.json()["data"]["run"]
    assert waited["status"] == "Completed", waited
    assert waited["result"].strip() == "relayed"
