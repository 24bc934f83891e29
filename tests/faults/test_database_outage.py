"""Postgres unreachable for 10 s: the API answers 503 at once, and the mirror catches up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, Stack, running_stack
from tests.helpers import assert_error, eventually
from tests.tcp_proxy import TcpProxy, tcp_proxy


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[Stack, TcpProxy]]:
    if not POSTGRES_URL:
        pytest.skip("needs Postgres (SCHEDULER_TEST_DATABASE_URL): a SQLite file cannot go away")
    upstream = make_url(POSTGRES_URL)
    with (
        tcp_proxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy,
        running_stack("postgres", database_port=proxy.port) as stack,
    ):
        yield stack, proxy


def test_api_answers_503_and_finished_runs_reach_the_mirror(
    proxied: tuple[Stack, TcpProxy],
) -> None:
    stack, proxy = proxied
    admin = stack.api("admin")
    task = admin.create_task(parameters={"command": "sleep 3; echo done-during-outage"})
    run_id = admin.trigger(task["id"])
    eventually(lambda: admin.run(run_id)["status"] == "Running", timeout=30)

    proxy.cut()
    cut_at = time.monotonic()
    try:
        began = time.monotonic()
        with httpx.Client(base_url=stack.base_url, timeout=20) as raw:
            response = raw.get(
                f"/api/tasks/{task['id']}", headers={"Authorization": f"Bearer {admin.token}"}
            )
        assert time.monotonic() - began < 10, "the API hung instead of answering"
        assert_error(response, 503, "DATABASE_ERROR")
        write = admin.post(
            "/api/tasks",
            json={
                "name": "x",
                "task_type": "shell",
                "schedule": "0 0 1 1 *",
                "parameters": {"command": "true"},
            },
        )
        assert_error(write, 503, "DATABASE_ERROR")
        # The run's 3 s finish within the outage; its mirror write then retries
        # against the dead database for several more seconds.
        time.sleep(max(0.0, cut_at + 10 - time.monotonic()))
    finally:
        proxy.restore()

    run = admin.wait_for_run(run_id, timeout=60)
    assert run["status"] == "Completed", run
    assert run["result"] == "done-during-outage\n"
    assert run["worker_id"]
    runs = admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]
    assert runs["total"] == 1
    assert admin.get("/api/tasks", params={"name": "x"}).json()["data"]["total"] == 0
    admin.close()
