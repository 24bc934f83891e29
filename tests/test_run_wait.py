"""``?wait=`` against the real processes: a worker ends the run and the waiting request
answers it; a client that hangs up frees its wait at once (uvicorn's disconnect)."""

from __future__ import annotations

import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

import devstack
from tests.conftest import Stack
from tests.helpers import Api, eventually

pytestmark = pytest.mark.one_backend


def open_waits(api: Api) -> int:
    text = api.get("/metrics").text
    found = re.search(r"^scheduler_run_waits_open (\S+)$", text, re.MULTILINE)
    assert found is not None, text[-2000:]
    return int(float(found.group(1)))


def test_trigger_with_wait_answers_the_finished_run(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "echo waited"})
    response = admin.post(f"/api/tasks/{task['id']}/trigger", params={"wait": 60})
    assert response.status_code == 201, response.text
    assert "X-Run-Wait" not in response.headers
    data = response.json()["data"]
    assert data["run"]["id"] == data["task_run_id"]
    assert data["run"]["status"] == "Completed"
    assert data["run"]["result"] == "waited\n"


def test_get_with_wait_answers_once_the_run_failed(admin: Api) -> None:
    task = admin.create_task(parameters={"command": "sleep 0.5; exit 3"})
    run_id = admin.trigger(task["id"])
    response = admin.get(f"/api/task-runs/{run_id}", params={"wait": 60})
    assert response.status_code == 200, response.text
    assert "X-Run-Wait" not in response.headers
    run = response.json()["data"]
    assert run["status"] == "Failed"
    assert "3" in (run["error_message"] or "")


def pending_run(admin: Api) -> int:
    """A run that stays Pending: it waits on a task that never runs."""
    blocker = admin.create_task(status="Inactive")
    return admin.trigger(admin.create_task(dependencies=[blocker["id"]])["id"])


def test_an_api_told_to_stop_answers_its_open_waits_at_once(stack: Stack, admin: Api) -> None:
    run_id = pending_run(admin)
    # An API process of its own beside the shared stack's, on the same database and Temporal.
    port = devstack.free_port()
    api = devstack.start_python(
        "api_main.py", [], {**stack.env, "SCHEDULER_API_PORT": str(port)}, stack.log_file("api-2")
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        devstack.wait_for_http(f"{base_url}/health", 60, api)
        second = Api(base_url, token=admin.token)
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(
                httpx.get,
                f"{base_url}/api/task-runs/{run_id}",
                params={"wait": 120},
                headers={"Authorization": f"Bearer {admin.token}"},
                timeout=60,
            )
            eventually(lambda: open_waits(second) == 1, timeout=10, interval=0.05)
            told = time.monotonic()
            api.send_signal(signal.SIGTERM)
            answer = waiting.result(timeout=30)
            answered_after = time.monotonic() - told
        api.wait(timeout=10)  # and the process is gone soon after
    finally:
        devstack.stop(api, within_seconds=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Run-Wait"] == "timeout"
    assert answer.json()["data"]["status"] == "Pending"
    # uvicorn alone would hold the wait for its 30 s graceful shutdown, then cut it off.
    assert answered_after < 5.0
    # uvicorn re-raises the signal it was stopped with once its shutdown is done.
    assert api.returncode == -signal.SIGTERM


def test_a_client_that_hangs_up_frees_its_wait(stack: Stack, admin: Api) -> None:
    run_id = pending_run(admin)
    before = open_waits(admin)
    address = urlsplit(stack.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(
            (
                f"GET /api/task-runs/{run_id}?wait=120 HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\nAuthorization: Bearer {admin.token}\r\n\r\n"
            ).encode()
        )
        eventually(lambda: open_waits(admin) == before + 1, timeout=10, interval=0.05)
    hung_up = time.monotonic()
    eventually(lambda: open_waits(admin) == before, timeout=10, interval=0.05)
    assert time.monotonic() - hung_up < 2.0
