"""``/api/system/health`` and ``/api/system/stats``: the truth, also while a dependency is down."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.system.health import overall_status
from tests.conftest import Stack
from tests.helpers import Api, assert_error, eventually, unique
from tests.processes import extra_api
from tests.rows import add_workers, remove_workers
from tests.tcp_proxy import tcp_proxy

HEALTH_FIELDS = {"status", "database_status", "message_queue_status", "uptime_seconds", "timestamp"}
STATS_FIELDS = {
    "total_tasks",
    "active_tasks",
    "total_workers",
    "active_workers",
    "running_task_runs",
    "completed_task_runs_today",
    "failed_task_runs_today",
}
# The probes give up after 2 s each (they run side by side); the answer comes well within this.
PROMPT_SECONDS = 5.0


def keyed_api(stack: Stack, admin: Api, permissions: list[str]) -> Api:
    """A client authenticating with a fresh API key that holds only ``permissions``."""
    response = admin.post(
        "/api/auth/api-keys", json={"name": unique("system-key"), "permissions": permissions}
    )
    assert response.status_code == 201, response.text
    api = Api(stack.base_url)
    api.token = response.json()["data"]["api_key"]
    return api


def stable_stats(api: Api) -> dict[str, int]:
    """Statistics once nothing left over from earlier tests still moves them."""

    def settled() -> dict[str, int] | None:
        first = stats_of(api)
        time.sleep(1)
        return first if stats_of(api) == first else None

    return eventually(settled, timeout=60)


def health_of(api: Api) -> dict[str, Any]:
    response = api.get("/api/system/health")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    assert set(data) == HEALTH_FIELDS, data
    return data


def stats_of(api: Api) -> dict[str, int]:
    response = api.get("/api/system/stats")
    assert response.status_code == 200, response.text
    data: dict[str, int] = response.json()["data"]
    assert set(data) == STATS_FIELDS, data
    return data


def test_health_reports_both_dependencies_connected(viewer: Api) -> None:
    first = health_of(viewer)
    assert first["status"] == "healthy"
    assert first["database_status"] == "connected"
    assert first["message_queue_status"] == "connected"
    assert isinstance(first["uptime_seconds"], int) and first["uptime_seconds"] >= 0
    assert first["timestamp"].endswith("Z")
    time.sleep(1.1)
    assert health_of(viewer)["uptime_seconds"] >= first["uptime_seconds"] + 1


def test_system_endpoints_need_system_read(stack: Stack, admin: Api, anonymous: Api) -> None:
    for path in ("/api/system/health", "/api/system/stats"):
        assert_error(anonymous.get(path), 401, "AUTHENTICATION_REQUIRED")
    task_reader = keyed_api(stack, admin, ["TaskRead"])
    system_reader = keyed_api(stack, admin, ["SystemRead"])
    try:
        for path in ("/api/system/health", "/api/system/stats"):
            assert_error(task_reader.get(path), 403, "INSUFFICIENT_PERMISSIONS")
        assert health_of(system_reader)["status"] == "healthy"
        stats_of(system_reader)
    finally:
        task_reader.close()
        system_reader.close()


def test_overall_status_follows_the_dependencies() -> None:
    assert overall_status(database_up=True, temporal_up=True) == "healthy"
    assert overall_status(database_up=True, temporal_up=False) == "degraded"
    assert overall_status(database_up=False, temporal_up=True) == "degraded"
    assert overall_status(database_up=False, temporal_up=False) == "unhealthy"


def test_stats_count_tasks_workers_and_todays_runs(stack: Stack, admin: Api, operator: Api) -> None:
    before = stable_stats(operator)
    active = admin.create_task(parameters={"command": "echo ok"})
    admin.create_task(status="Inactive")
    failing = admin.create_task(parameters={"command": "exit 3"}, status="Inactive")
    slow = admin.create_task(parameters={"command": "sleep 30"}, timeout_seconds=1)
    running = admin.create_task(parameters={"command": "sleep 60"}, timeout_seconds=120)

    assert admin.wait_for_run(admin.trigger(active["id"]))["status"] == "Completed"
    assert admin.wait_for_run(admin.trigger(failing["id"]))["status"] == "Failed"
    assert admin.wait_for_run(admin.trigger(slow["id"]))["status"] == "Timeout"
    open_run = admin.trigger(running["id"])
    eventually(lambda: admin.run(open_run)["status"] == "Running", timeout=30)
    workers = add_workers(stack, ["Alive", "Down"])
    try:
        after = stats_of(operator)
    finally:
        remove_workers(stack, workers)
        admin.post(f"/api/task-runs/{open_run}/cancel")

    delta = {field: after[field] - before[field] for field in STATS_FIELDS}
    assert delta == {
        "total_tasks": 5,
        "active_tasks": 3,
        "total_workers": 2,
        "active_workers": 1,
        "running_task_runs": 1,
        "completed_task_runs_today": 1,
        "failed_task_runs_today": 2,  # Failed and Timeout
    }, (before, after)
    assert 0 <= after["active_tasks"] <= after["total_tasks"]
    assert 0 <= after["active_workers"] <= after["total_workers"]


def test_health_with_temporal_unreachable_is_degraded_then_recovers(
    stack: Stack, admin: Api
) -> None:
    host, _, port = stack.temporal_address.rpartition(":")
    with (
        tcp_proxy(host, int(port)) as temporal,
        extra_api(
            stack, "api-temporal-proxy", {"TEMPORAL_ADDRESS": f"127.0.0.1:{temporal.port}"}
        ) as extra,
    ):
        viewer = Api(extra.base_url, "viewer")
        assert eventually(lambda: health_of(viewer)["status"] == "healthy", timeout=30)

        temporal.cut()
        started = time.monotonic()
        down = health_of(viewer)
        assert time.monotonic() - started < PROMPT_SECONDS
        assert down["status"] == "degraded"
        assert down["message_queue_status"] == "disconnected"
        assert down["database_status"] == "connected"
        # Statistics are plain SQL: Temporal's outage does not touch them.
        stats_of(viewer)

        temporal.restore()
        back = eventually(lambda: (h := health_of(viewer))["status"] == "healthy" and h, timeout=30)
        assert back["message_queue_status"] == "connected"


def test_health_with_the_database_down_tells_the_truth_then_recovers(
    stack: Stack,
) -> None:
    if stack.backend != "postgres":
        pytest.skip("a SQLite file cannot become unreachable; the Postgres run covers this")
    url = make_url(stack.database_url)
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as database:
        proxied = url.set(host="127.0.0.1", port=database.port)
        env = {"DATABASE_URL": proxied.render_as_string(hide_password=False)}
        with extra_api(stack, "api-database-proxy", env) as extra:
            viewer = Api(extra.base_url, "viewer")
            assert health_of(viewer)["status"] == "healthy"

            database.cut()
            started = time.monotonic()
            down = health_of(viewer)
            assert time.monotonic() - started < PROMPT_SECONDS
            # The report is still 200 and says what is wrong (the token is checked
            # by its signature and role claim while the database is down) ...
            assert down["status"] == "degraded"
            assert down["database_status"] == "disconnected"
            assert down["message_queue_status"] == "connected"
            # ... while everything that needs the database answers 503 at once.
            assert_error(viewer.get("/api/system/stats"), 503, "DATABASE_ERROR")
            liveness = httpx.get(f"{extra.base_url}/health", timeout=PROMPT_SECONDS)
            assert liveness.status_code == 200

            # Scrapes never wait on the database: the outage shows within a refresh.
            def scrape_showing_outage() -> httpx.Response | None:
                response = httpx.get(f"{extra.base_url}/metrics", timeout=10)
                assert response.status_code == 200
                return response if "scheduler_database_up 0.0" in response.text else None

            scrape = eventually(scrape_showing_outage, timeout=15)
            assert "scheduler_tasks_total" not in scrape.text

            database.restore()
            eventually(lambda: health_of(viewer)["status"] == "healthy", timeout=30)
            eventually(
                lambda: (
                    "scheduler_database_up 1.0"
                    in httpx.get(f"{extra.base_url}/metrics", timeout=10).text
                ),
                timeout=15,
            )
