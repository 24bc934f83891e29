"""Runs as users see them: retries, timeouts, output, failures, and the mirror's states."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.helpers import Api, eventually

# The executors and the worker processes behave alike on either database (the
# mirror's SQL has its own tests on both): once, on Postgres when available.
pytestmark = pytest.mark.one_backend


def processes_matching(marker: str) -> list[str]:
    """Command lines of live processes that contain ``marker``."""
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True, check=True)
    return [
        line
        for line in out.stdout.splitlines()
        if marker in line and not line.lstrip().startswith("Z") and "ps -eo" not in line
    ]


def test_failing_command_is_retried_then_failed(admin: Api) -> None:
    task = admin.create_task(
        parameters={"command": "echo partial; echo 'disk full' >&2; exit 3"}, max_retries=2
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed", run
    assert run["retry_count"] == 2
    assert run["error_message"].startswith("exit code 3")
    assert "disk full" in run["error_message"]
    assert run["result"] == "partial\n"
    assert run["completed_at"] is not None
    stats = admin.get(f"/api/tasks/{task['id']}/stats").json()["data"]
    assert stats["failed_runs"] == 1
    assert stats["successful_runs"] == 0
    assert stats["success_rate"] == 0.0
    assert stats["last_failure"] == run["completed_at"]


def test_command_that_succeeds_on_a_retry_completes(admin: Api, stack: Stack) -> None:
    flag = stack.task_dir / f"flag-{uuid.uuid4().hex}"
    # First attempt creates the flag and fails; the second finds it and succeeds.
    command = f"if [ -e {flag} ]; then echo second; else touch {flag}; exit 1; fi"
    task = admin.create_task(parameters={"command": command}, max_retries=1)
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    assert run["retry_count"] == 1
    assert run["result"] == "second\n"


def test_timeout_ends_the_run_and_kills_every_process(admin: Api) -> None:
    marker = f"{uuid.uuid4().int % 1000 + 1000}.{os.getpid()}"
    # A background grandchild and a foreground sleep, both far longer than the timeout.
    command = f"sleep {marker} & sleep {marker}; echo never"
    task = admin.create_task(parameters={"command": command}, timeout_seconds=2)
    run_id = admin.trigger(task["id"])
    eventually(lambda: processes_matching(f"sleep {marker}"), timeout=30)
    run = admin.wait_for_run(run_id, timeout=60)
    assert run["status"] == "Timeout", run
    assert "timed out" in run["error_message"]
    assert run["retry_count"] == 0
    assert run["execution_duration_ms"] is not None and run["execution_duration_ms"] >= 1500
    eventually(lambda: not processes_matching(f"sleep {marker}") or None, timeout=15)


def test_timeout_is_per_attempt_and_retried(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "sleep 20"}, timeout_seconds=1, max_retries=1)
    run = admin.wait_for_run(admin.trigger(task["id"]), timeout=60)
    assert run["status"] == "Timeout", run
    assert run["retry_count"] == 1


def test_running_run_shows_worker_and_attempt(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "sleep 3; echo done"})
    run_id = admin.trigger(task["id"])
    running = eventually(
        lambda: (run := admin.run(run_id))["status"] == "Running" and run, timeout=30
    )
    assert running["worker_id"]
    assert running["retry_count"] == 0
    assert running["started_at"] is not None
    assert running["completed_at"] is None
    filtered = admin.get(f"/api/tasks/{task['id']}/runs", params={"status": "Running"}).json()
    assert [r["id"] for r in filtered["data"]["items"]] == [run_id]
    final = admin.wait_for_run(run_id)
    assert final["status"] == "Completed"
    assert final["worker_id"] == running["worker_id"]
    assert (
        admin.get(f"/api/tasks/{task['id']}/runs", params={"status": "Running"}).json()["data"][
            "total"
        ]
        == 0
    )


def test_environment_working_directory_and_shell(admin: Api, stack: Stack) -> None:
    task = admin.create_task(
        parameters={
            "command": 'echo "$GREETING from $(pwd)"; echo "${DATABASE_URL:-no-secrets}"',
            "working_directory": str(stack.task_dir),
            "environment": {"GREETING": "hello"},
            "shell": "/bin/bash",
        }
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Completed", run
    # The worker's own environment (which holds DATABASE_URL) does not leak into tasks.
    assert run["result"] == f"hello from {stack.task_dir}\nno-secrets\n"


def test_missing_working_directory_fails_without_retrying(admin: Api) -> None:
    task = admin.create_task(
        parameters={"command": "true", "working_directory": "/nonexistent/dir"}, max_retries=3
    )
    run = admin.wait_for_run(admin.trigger(task["id"]))
    assert run["status"] == "Failed"
    assert "does not exist" in run["error_message"]
    assert run["retry_count"] == 0


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def test_large_output_is_bounded_with_head_and_tail(admin: Api, stack: Stack) -> None:
    # 100 MB on stdout and 100 MB on stderr; the default bound keeps 64 KiB of each.
    command = (
        "echo FIRST-LINE; head -c 100000000 /dev/zero | tr '\\0' x; "
        "head -c 100000000 /dev/zero >&2; echo; echo LAST-LINE"
    )
    worker_pid = stack.processes["shell"].pid
    task = admin.create_task(parameters={"command": command})
    run = admin.wait_for_run(admin.trigger(task["id"]), timeout=120)
    # The worker kept at most its bounds in memory, never the 200 MB it was sent
    # (a worker process peaks around 100 MB on its own).
    assert peak_rss_kib(worker_pid) < 180_000
    assert run["status"] == "Completed", run["error_message"]
    result = run["result"]
    assert result.startswith("FIRST-LINE\n")
    assert result.endswith("LAST-LINE\n")
    assert "bytes cut" in result
    assert len(result.encode()) < 70 * 1024


def test_runs_are_listed_newest_first_and_paginated(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "true"})
    run_ids = [admin.trigger(task["id"]) for _ in range(3)]
    for run_id in run_ids:
        admin.wait_for_run(run_id)
    page1 = admin.get(f"/api/tasks/{task['id']}/runs", params={"page_size": 2}).json()["data"]
    page2 = admin.get(f"/api/tasks/{task['id']}/runs", params={"page_size": 2, "page": 2}).json()[
        "data"
    ]
    assert page1["total"] == 3 and page1["total_pages"] == 2
    assert [r["id"] for r in page1["items"] + page2["items"]] == sorted(run_ids, reverse=True)
    completed = admin.get(f"/api/tasks/{task['id']}/runs", params={"status": "Completed"}).json()[
        "data"
    ]
    assert completed["total"] == 3
