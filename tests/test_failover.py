"""A worker killed mid-run: its heartbeats stop and the attempt moves to another worker."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator

import pytest

import devstack
from tests.conftest import PRIMARY_BACKEND, Stack, running_stack
from tests.helpers import Api, eventually
from tests.test_runs import processes_matching


# A stack of its own: these tests kill and stop the stack's shell worker, whose
# registry row stays Alive for a liveness window afterwards; on the session's
# stack that would move the worker counts other modules read. The executors and
# worker processes behave alike on either database (the mirror's SQL has its own
# tests on both): once, on Postgres when available. Only shell tasks run here.
@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack(PRIMARY_BACKEND, executors=("shell",)) as running:
        yield running


def test_sigkilled_worker_hands_the_attempt_to_another(stack: Stack, admin: Api) -> None:
    spare_id = f"spare-{uuid.uuid4().hex[:6]}"
    log_path = stack.data_dir / f"{spare_id}.log"
    with open(log_path, "wb") as log:
        spare = devstack.start_python(
            "worker_main.py", ["--task-type", "shell", "--worker-id", spare_id], stack.env, log
        )
    killed_main = False
    try:
        eventually(lambda: "polling" in log_path.read_text(), timeout=30)
        task = admin.create_task(
            parameters={"command": "sleep 4; echo survived"}, max_retries=0, timeout_seconds=120
        )
        run_id = admin.trigger(task["id"])
        running = eventually(
            lambda: (r := admin.run(run_id))["status"] == "Running" and r, timeout=30
        )
        first_worker = running["worker_id"]
        if first_worker == spare_id:
            victim = spare.pid
        else:
            victim = int(first_worker.rsplit("-", 1)[1])
            assert victim == stack.processes["shell"].pid
            killed_main = True
        os.kill(victim, signal.SIGKILL)
        final = admin.wait_for_run(run_id, timeout=90)
        assert final["status"] == "Completed", final
        assert final["result"] == "survived\n"
        # No retries configured: a lost worker does not spend them, the attempt runs again.
        assert final["retry_count"] == 1
        assert final["worker_id"] != first_worker
    finally:
        devstack.stop(spare)
        if killed_main:
            stack.processes["shell"].wait()
            stack.start("shell", "worker_main.py", "--task-type", "shell")


def test_worker_shutdown_kills_the_group_and_hands_the_attempt_over(
    stack: Stack, admin: Api
) -> None:
    """SIGTERM: the worker drains for SCHEDULER_WORKER_DRAIN_SECONDS (5 s here), then
    cancels what is left, which kills the whole process group; a retry runs elsewhere."""
    spare_id = f"spare-{uuid.uuid4().hex[:6]}"
    log_path = stack.data_dir / f"{spare_id}.log"
    with open(log_path, "wb") as log:
        spare = devstack.start_python(
            "worker_main.py", ["--task-type", "shell", "--worker-id", spare_id], stack.env, log
        )
    stopped_main = False
    marker = f"{uuid.uuid4().int % 1000 + 3000}.{os.getpid()}"
    try:
        eventually(lambda: "polling" in log_path.read_text(), timeout=30)
        flag = stack.task_dir / f"second-{marker}"
        # First attempt: background grandchild and a long sleep; the retry finishes at once.
        command = (
            f"if [ -e {flag} ]; then echo handed-over; "
            f"else touch {flag}; sleep {marker} & sleep {marker}; fi"
        )
        task = admin.create_task(
            parameters={"command": command}, max_retries=1, timeout_seconds=300
        )
        run_id = admin.trigger(task["id"])
        running = eventually(
            lambda: (r := admin.run(run_id))["status"] == "Running" and r, timeout=30
        )
        eventually(lambda: processes_matching(f"sleep {marker}"), timeout=10)
        if running["worker_id"] == spare_id:
            devstack.stop(spare)
        else:
            stopped_main = True
            devstack.stop(stack.processes["shell"])
        assert not processes_matching(f"sleep {marker}")
        final = admin.wait_for_run(run_id, timeout=90)
        assert final["status"] == "Completed", final
        assert final["result"] == "handed-over\n"
        assert final["worker_id"] != running["worker_id"]
    finally:
        devstack.stop(spare)
        if stopped_main:
            stack.start("shell", "worker_main.py", "--task-type", "shell")
