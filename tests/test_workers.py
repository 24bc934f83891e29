"""The worker registry tells the truth about live and dead workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import devstack
from processes.identity import RunAs
from tests.conftest import Stack
from tests.helpers import Api, assert_error, eventually


@contextmanager
def spare_worker(stack: Stack, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    worker_id = f"spare-{uuid.uuid4().hex[:6]}"
    log_path = stack.data_dir / f"{worker_id}.log"
    with open(log_path, "wb") as log:
        process = devstack.start_python(
            "worker_main.py",
            ["--task-type", "shell", "--worker-id", worker_id, *extra],
            stack.env,
            log,
        )
    try:
        eventually(lambda: "polling" in log_path.read_text(), timeout=30)
        yield worker_id, process
    finally:
        devstack.stop(process)


def worker(api: Api, worker_id: str) -> dict[str, Any]:
    response = api.get(f"/api/workers/{worker_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_stack_workers_are_registered_and_alive(viewer: Api) -> None:
    def all_types_alive() -> dict[str, Any] | None:
        # A worker another test killed and restarted may still be registering.
        params = {"status": "Alive", "page_size": 100}
        listed: dict[str, Any] = viewer.get("/api/workers", params=params).json()["data"]
        types = {t for item in listed["items"] for t in item["supported_task_types"]}
        return listed if {"shell", "http", "python"} <= types else None

    listed = eventually(all_types_alive, timeout=30)
    for item in listed["items"]:
        assert item["status"] == "Alive"
        assert item["max_concurrent_tasks"] == 10
        assert item["hostname"]
        assert item["ip_address"]
        assert item["last_heartbeat"].endswith("Z")
    assert_error(viewer.get("/api/workers/no-such-worker"), 404, "WORKER_NOT_FOUND")
    assert_error(viewer.get("/api/workers/no-such-worker/stats"), 404, "WORKER_NOT_FOUND")
    assert_error(viewer.get("/api/workers", params={"status": "Sleeping"}), 422, "VALIDATION_ERROR")


def test_clean_stop_is_down_at_once(stack: Stack, admin: Api) -> None:
    with spare_worker(stack) as (worker_id, process):
        assert worker(admin, worker_id)["status"] == "Alive"
        devstack.stop(process)
        stopped = worker(admin, worker_id)
        assert stopped["status"] == "Down"
        assert stopped["current_task_count"] == 0
        down = admin.get("/api/workers", params={"status": "Down", "page_size": 100}).json()
        assert worker_id in {item["id"] for item in down["data"]["items"]}


def test_killed_worker_is_down_after_the_liveness_window(stack: Stack, admin: Api) -> None:
    with spare_worker(stack) as (worker_id, process):
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # The test stack's liveness window is 4 s, its heartbeat 1 s.
        assert worker(admin, worker_id)["status"] == "Alive"
        eventually(lambda: worker(admin, worker_id)["status"] == "Down", timeout=15)
        alive = admin.get("/api/workers", params={"status": "Alive", "page_size": 100}).json()
        assert worker_id not in {item["id"] for item in alive["data"]["items"]}


def test_two_workers_share_a_queue_and_load_is_reported(stack: Stack, admin: Api) -> None:
    with spare_worker(stack, "--max-concurrent", "2") as (spare_id, _):
        task = admin.create_task(parameters={"command": "sleep 2; echo shared"})
        # More runs at once than the stack's own shell worker takes (10), so the
        # spare must take some.
        run_ids = [admin.trigger(task["id"]) for _ in range(14)]

        def spare_busy() -> dict[str, Any] | None:
            current = worker(admin, spare_id)
            return current if current["current_task_count"] >= 1 else None

        busy = eventually(spare_busy, timeout=30)
        assert busy["load_percentage"] == busy["current_task_count"] * 100 / 2
        finals = [admin.wait_for_run(run_id, timeout=90) for run_id in run_ids]
        assert all(run["status"] == "Completed" for run in finals)
        workers_used = {run["worker_id"] for run in finals}
        assert spare_id in workers_used
        assert len(workers_used) >= 2
        stats = admin.get(f"/api/workers/{spare_id}/stats").json()["data"]
        spare_runs = [run for run in finals if run["worker_id"] == spare_id]
        assert stats["total_tasks_executed"] == len(spare_runs)
        assert stats["successful_tasks"] == len(spare_runs)
        assert stats["failed_tasks"] == 0
        assert stats["success_rate"] == 100.0
        assert stats["tasks_last_24h"] == stats["tasks_last_7d"] == len(spare_runs)
        assert stats["uptime_seconds"] >= 1
        assert stats["average_execution_time_ms"] >= 1900
        assert stats["last_task_completed"] == max(run["completed_at"] for run in spare_runs)


# In a fresh interpreter: the orphan sweeper ends every child of its process that
# it did not start, which in the test process would be the suite's own servers.
RUN_AS_PROBE = """
import asyncio
from processes.group_watchdog import GroupWatchdog
from processes.identity import RunAs
from processes.orphans import OrphanSweeper
from processes.spawn import run_process

async def main():
    watchdog = await GroupWatchdog.start(grace_seconds=1)
    try:
        outcome = await run_process(
            ["/bin/sh", "-c", "id -u; echo $HOME"],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            output_limit=1024,
            grace_seconds=1,
            watchdog=watchdog,
            sweeper=OrphanSweeper(grace_seconds=1),
            run_as=RunAs.lookup("nobody"),
        )
    finally:
        await watchdog.close()
    print(outcome.exit_code, *outcome.stdout.text().split())

asyncio.run(main())
"""


def test_run_as_user_drops_root() -> None:
    if os.geteuid() != 0:
        raise AssertionError("this machine's tests run as root; run-as needs root to switch")
    nobody = RunAs.lookup("nobody")
    probe = subprocess.run(
        [sys.executable, "-c", RUN_AS_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert probe.stdout.split() == ["0", str(nobody.uid), nobody.home], probe.stderr


# Run in a fresh interpreter: the child watcher is process-wide asyncio state.
PIDFD_PROBE = """
import asyncio, json, signal, threading
from processes.spawn import wait_for_children_with_pidfds

async def main():
    switched = wait_for_children_with_pidfds()
    before = threading.active_count()
    procs = [
        await asyncio.create_subprocess_exec("/bin/sh", "-c", f"sleep 0.3; exit {code}")
        for code in range(8)
    ]
    sleeper = await asyncio.create_subprocess_exec("/bin/sleep", "30")
    during = threading.active_count()
    sleeper.send_signal(signal.SIGTERM)
    codes = [await proc.wait() for proc in procs]
    print(json.dumps([switched, before, during, codes, await sleeper.wait()]))

asyncio.run(main())
"""


def test_task_processes_are_waited_for_without_a_thread_each() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PIDFD_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    switched, before, during, codes, killed = json.loads(probe.stdout)
    # 3.11 has to be switched; 3.12 and later use pidfds on their own.
    assert switched is (sys.version_info < (3, 12))
    assert during == before
    assert codes == list(range(8))
    assert killed == -signal.SIGTERM
