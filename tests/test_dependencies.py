"""Dependency waits: in order, prompt, bounded, and tied to this task's previous run."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.helpers import Api, eventually

# The queries deciding whether a dependency is met and which waiting runs a
# completion wakes are held on both backends by tests/persistence/test_dependency_state.py;
# these runs through the real workers and Temporal run once.
pytestmark = pytest.mark.one_backend


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_diamond_runs_in_dependency_order(admin: Api) -> None:
    a = admin.create_task(parameters={"command": "sleep 0.5; echo a"})
    b = admin.create_task(parameters={"command": "echo b"}, dependencies=[a["id"]])
    c = admin.create_task(parameters={"command": "echo c"}, dependencies=[a["id"]])
    d = admin.create_task(parameters={"command": "echo d"}, dependencies=[b["id"], c["id"]])
    # Triggered in the worst order: the leaf first.
    run_d = admin.trigger(d["id"])
    run_b = admin.trigger(b["id"])
    run_c = admin.trigger(c["id"])
    time.sleep(1)
    for run_id in (run_d, run_b, run_c):
        assert admin.run(run_id)["status"] == "Pending"
    run_a = admin.trigger(a["id"])
    runs = {
        name: admin.wait_for_run(run_id)
        for name, run_id in {"a": run_a, "b": run_b, "c": run_c, "d": run_d}.items()
    }
    assert all(run["status"] == "Completed" for run in runs.values()), runs
    assert at(runs["b"]["started_at"]) >= at(runs["a"]["completed_at"])
    assert at(runs["c"]["started_at"]) >= at(runs["a"]["completed_at"])
    assert at(runs["d"]["started_at"]) >= max(
        at(runs["b"]["completed_at"]), at(runs["c"]["completed_at"])
    )


def test_waiting_run_starts_within_a_second_of_its_dependency(admin: Api) -> None:
    upstream = admin.create_task(parameters={"command": "echo up"})
    downstream = admin.create_task(
        parameters={"command": "echo down"}, dependencies=[upstream["id"]]
    )
    waiting = admin.trigger(downstream["id"])
    time.sleep(2.5)  # longer than the test stack's fallback re-check interval
    assert admin.run(waiting)["status"] == "Pending"
    done = admin.wait_for_run(admin.trigger(upstream["id"]))
    started = eventually(lambda: admin.run(waiting)["started_at"], timeout=15)
    lag = (at(started) - at(done["completed_at"])).total_seconds()
    assert 0 <= lag < 1.0, lag
    assert admin.wait_for_run(waiting)["status"] == "Completed"


def test_unmet_dependency_fails_the_waiter_at_its_limit(admin: Api) -> None:
    never = admin.create_task(parameters={"command": "true"})
    waiter = admin.create_task(
        parameters={"command": "echo unreachable"},
        dependencies=[never["id"]],
        dependency_timeout_seconds=3,
    )
    began = time.monotonic()
    run = admin.wait_for_run(admin.trigger(waiter["id"]), timeout=30)
    elapsed = time.monotonic() - began
    assert run["status"] == "Failed", run
    assert "dependencies not met within 3s" in run["error_message"]
    assert never["name"] in run["error_message"]
    assert run["started_at"] is None
    assert 2.5 <= elapsed < 15


def test_failed_dependency_does_not_satisfy(admin: Api) -> None:
    broken = admin.create_task(parameters={"command": "exit 1"})
    admin.wait_for_run(admin.trigger(broken["id"]))
    waiter = admin.create_task(
        parameters={"command": "true"}, dependencies=[broken["id"]], dependency_timeout_seconds=2
    )
    run = admin.wait_for_run(admin.trigger(waiter["id"]), timeout=30)
    assert run["status"] == "Failed"
    assert broken["name"] in run["error_message"]


def test_next_run_needs_a_completion_after_the_previous_run(admin: Api) -> None:
    upstream = admin.create_task(parameters={"command": "true"})
    downstream = admin.create_task(parameters={"command": "true"}, dependencies=[upstream["id"]])
    admin.wait_for_run(admin.trigger(upstream["id"]))
    # First run of downstream: any completion of upstream counts.
    assert admin.wait_for_run(admin.trigger(downstream["id"]))["status"] == "Completed"
    # Second run: upstream's completion predates the first run, so it waits.
    second = admin.trigger(downstream["id"])
    time.sleep(2.5)
    assert admin.run(second)["status"] == "Pending"
    admin.wait_for_run(admin.trigger(upstream["id"]))
    assert admin.wait_for_run(second)["status"] == "Completed"


def test_deleted_dependency_fails_the_waiting_run(admin: Api) -> None:
    upstream = admin.create_task(parameters={"command": "true"})
    downstream = admin.create_task(parameters={"command": "true"}, dependencies=[upstream["id"]])
    waiting = admin.trigger(downstream["id"])
    eventually(lambda: admin.run(waiting)["status"] == "Pending", timeout=10)
    # The edge goes first (a task with dependents cannot be deleted), then the task.
    assert (
        admin.patch(f"/api/tasks/{downstream['id']}", json={"dependencies": []}).status_code == 200
    )
    assert admin.delete(f"/api/tasks/{upstream['id']}").status_code == 200
    run = admin.wait_for_run(waiting, timeout=20)
    assert run["status"] == "Failed"
    assert "deleted" in run["error_message"]
    assert str(upstream["id"]) in run["error_message"]
