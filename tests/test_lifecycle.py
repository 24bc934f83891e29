"""The contract's lifecycle example, end to end through real processes."""

from __future__ import annotations

from tests.conftest import Stack
from tests.helpers import Api


def test_login_create_trigger_watch_and_read_stats(stack: Stack, admin: Api) -> None:
    task = admin.create_task(
        schedule="0 9 * * *",
        parameters={"command": "echo report-ready; echo warn >&2"},
        timeout_seconds=1800,
        max_retries=2,
    )
    assert task["status"] == "Active"
    assert task["timeout_seconds"] == 1800
    assert task["max_retries"] == 2
    assert task["dependencies"] == []

    run_id = admin.trigger(task["id"])
    run = admin.wait_for_run(run_id)
    assert run["status"] == "Completed", run
    assert run["result"] == "report-ready\n"
    assert run["error_message"] is None
    assert run["retry_count"] == 0
    assert run["worker_id"]
    assert run["task_id"] == task["id"]
    assert run["execution_duration_ms"] is not None and run["execution_duration_ms"] >= 0
    assert run["scheduled_at"] <= run["started_at"] <= run["completed_at"]

    runs = admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]
    assert runs["total"] == 1
    assert [item["id"] for item in runs["items"]] == [run_id]
    assert runs["page"] == 1 and runs["page_size"] == 20 and runs["total_pages"] == 1

    stats = admin.get(f"/api/tasks/{task['id']}/stats").json()["data"]
    assert stats["total_runs"] == 1
    assert stats["successful_runs"] == 1
    assert stats["failed_runs"] == 0
    assert stats["success_rate"] == 100.0
    assert stats["last_success"] == run["completed_at"]
    assert stats["last_failure"] is None
    assert stats["runs_last_24h"] == stats["runs_last_7d"] == stats["runs_last_30d"] == 1
    assert stats["min_duration_ms"] == stats["max_duration_ms"] == run["execution_duration_ms"]

    detail = admin.get(f"/api/tasks/{task['id']}").json()["data"]
    assert [r["id"] for r in detail["recent_runs"]] == [run_id]
    assert detail["execution_stats"]["total_runs"] == 1
    assert detail["execution_stats"]["success_rate"] == 100.0
