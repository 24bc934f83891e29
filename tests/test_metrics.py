"""``/metrics``: the contract's families, request and run histograms, checked by promtool."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Stack
from tests.helpers import Api, eventually
from tests.prometheus import Key, label_values, samples, value
from tests.rows import add_workers, remove_workers

# promtool's only allowed complaint: the contract names this gauge with a counter's suffix.
ALLOWED_COMPLAINT = 'scheduler_workers_total non-counter metrics should not have "_total" suffix'


def scrape(api: Api) -> str:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def settled(api: Api) -> dict[Key, float]:
    """A scrape whose database figures are current: two scrapes, more than the
    snapshot's refresh age (1 s in the test stack) apart, agree on them."""
    families = ("scheduler_tasks_total", "scheduler_task_runs_total", "scheduler_workers_total")
    previous = samples(scrape(api))

    def agreeing() -> dict[Key, float] | None:
        nonlocal previous
        time.sleep(1.5)
        current = samples(scrape(api))
        same = all(
            value == previous.get(key) for key, value in current.items() if key[0] in families
        )
        previous = current
        return current if same else None

    return eventually(agreeing, timeout=30, interval=0)


@pytest.fixture
def fresh_workers(stack: Stack) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    remove_workers(stack, ids)


def run_dependency_pair(admin: Api) -> tuple[int, int]:
    """B depends on A; B is triggered first and waits about 2 s for A. Returns both run ids."""
    upstream = admin.create_task(parameters={"command": "echo upstream"})
    downstream = admin.create_task(
        parameters={"command": "echo downstream"}, dependencies=[upstream["id"]], status="Inactive"
    )
    waiting = admin.trigger(downstream["id"])
    eventually(lambda: admin.run(waiting)["status"] == "Pending", timeout=10)
    time.sleep(2)  # the wait the histogram must show
    first = admin.trigger(upstream["id"])
    assert admin.wait_for_run(first)["status"] == "Completed"
    assert admin.wait_for_run(waiting)["status"] == "Completed"
    return first, waiting


def test_metrics_need_no_auth_and_pass_promtool(admin: Api, anonymous: Api, promtool: str) -> None:
    run_dependency_pair(admin)
    failing = admin.create_task(parameters={"command": "exit 1"})
    admin.wait_for_run(admin.trigger(failing["id"]))
    families = (
        "scheduler_task_run_duration_seconds",
        "scheduler_task_run_start_lag_seconds",
        "scheduler_task_run_dependency_wait_seconds",
        "scheduler_http_request_duration_seconds",
    )

    # The runs show once the API's metrics timer has read them (every 1 s here).
    def with_runs() -> str | None:
        found = scrape(anonymous)
        return found if all(f"{family}_bucket{{" in found for family in families) else None

    text = eventually(with_runs, timeout=10)
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    complaints = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()]
    assert complaints == [ALLOWED_COMPLAINT], complaints


def test_contract_families_keep_their_names_types_and_labels(anonymous: Api) -> None:
    text = scrape(anonymous)
    lines = text.splitlines()
    for name, kind, help_text in (
        ("scheduler_tasks_total", "counter", "Total number of tasks"),
        ("scheduler_task_runs_total", "counter", "Total number of task runs"),
        ("scheduler_workers_total", "gauge", "Total number of workers"),
    ):
        assert f"# HELP {name} {help_text}" in lines
        assert f"# TYPE {name} {kind}" in lines
    parsed = samples(text)
    assert label_values(parsed, "scheduler_tasks_total", "status") == {"active", "inactive"}
    assert label_values(parsed, "scheduler_task_runs_total", "status") == {
        "pending",
        "dispatched",
        "running",
        "completed",
        "failed",
        "timeout",
    }
    assert label_values(parsed, "scheduler_workers_total", "status") == {"alive", "down"}
    assert value(parsed, "scheduler_database_up") == 1.0


def test_values_follow_tasks_runs_and_workers(
    stack: Stack, admin: Api, anonymous: Api, fresh_workers: list[str]
) -> None:
    before = settled(anonymous)
    ok = admin.create_task(parameters={"command": "echo ok"})
    bad = admin.create_task(parameters={"command": "exit 3"}, status="Inactive")
    run_dependency_pair(admin)  # one active task, one inactive, two completed runs
    assert admin.wait_for_run(admin.trigger(ok["id"]))["status"] == "Completed"
    assert admin.wait_for_run(admin.trigger(bad["id"]))["status"] == "Failed"
    # Written last: the reconciler marks a row Down once its heartbeat is 4 s old.
    fresh_workers += add_workers(stack, ["Alive", "Down"])

    def workers_written() -> dict[Key, float] | None:
        current = samples(scrape(anonymous))
        alive = value(current, "scheduler_workers_total", status="alive")
        return current if alive - value(before, "scheduler_workers_total", status="alive") else None

    after = eventually(workers_written, timeout=10)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("scheduler_tasks_total", status="active") == 2
    assert delta("scheduler_tasks_total", status="inactive") == 2
    assert delta("scheduler_task_runs_total", status="completed") == 3
    assert delta("scheduler_task_runs_total", status="failed") == 1
    assert delta("scheduler_workers_total", status="alive") == 1
    assert delta("scheduler_workers_total", status="down") == 1
    # Per task type: the alert on a type with active tasks and no Alive worker reads these.
    assert delta("scheduler_active_tasks", task_type="shell") == 2
    assert delta("scheduler_alive_workers", task_type="shell") == 1  # the Down row is not
    for task_type in ("shell", "http", "python"):  # the stack's own executor workers
        assert value(after, "scheduler_alive_workers", task_type=task_type) >= 1, task_type

    duration = "scheduler_task_run_duration_seconds"
    completed = {"task_type": "shell", "status": "completed"}
    assert delta(f"{duration}_count", **completed) == 3
    assert delta(f"{duration}_count", task_type="shell", status="failed") == 1
    assert delta(f"{duration}_bucket", le="+Inf", **completed) == 3
    assert value(after, f"{duration}_bucket", le="0.1", **completed) <= value(
        after, f"{duration}_bucket", le="+Inf", **completed
    )
    assert delta(f"{duration}_sum", **completed) >= 0

    lag = "scheduler_task_run_start_lag_seconds"
    assert delta(f"{lag}_count", trigger="manual") == 4
    assert delta(f"{lag}_bucket", le="+Inf", trigger="manual") == 4

    wait = "scheduler_task_run_dependency_wait_seconds"
    assert delta(f"{wait}_count") == 1
    assert delta(f"{wait}_bucket", le="1.0") == 0  # it waited about 2 s
    assert delta(f"{wait}_bucket", le="+Inf") == 1
    assert delta(f"{wait}_sum") >= 1.5


def test_http_metrics_label_routes_by_template(admin: Api, anonymous: Api) -> None:
    task = admin.create_task()
    before = samples(scrape(anonymous))
    for _ in range(2):
        assert admin.get(f"/api/tasks/{task['id']}").status_code == 200
    assert admin.get("/api/tasks/987654321").status_code == 404
    assert anonymous.get("/no/such/route").status_code == 404
    # A method the HTTP parser knows (llhttp rejects unknown tokens with 400
    # before the app sees them) but the API does not serve.
    assert anonymous.request("PROPFIND", "/health").status_code == 405
    after = samples(scrape(anonymous))

    requests = "scheduler_http_requests_total"
    latency = "scheduler_http_request_duration_seconds_count"

    def delta(name: str, route: str, status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        return value(after, name, **labels) - value(before, name, **labels)

    for name in (requests, latency):
        assert delta(name, "/api/tasks/{task_id}", "200") == 2
        assert delta(name, "/api/tasks/{task_id}", "404") == 1
        assert delta(name, "unmatched", "404") == 1
    other = {"method": "OTHER", "route": "unmatched", "status": "405"}
    assert value(after, requests, **other) - value(before, requests, **other) == 1
    assert "PROPFIND" not in label_values(after, requests, "method")
    routes = label_values(after, requests, "route")
    assert f"/api/tasks/{task['id']}" not in routes
    assert "/no/such/route" not in routes
