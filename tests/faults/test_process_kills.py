"""Killing the orchestrator or the Temporal server loses no run and runs none twice;
triggers sent while Temporal is down are accepted and run once it is back."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import devstack
from tests.conftest import Stack
from tests.helpers import Api, eventually, unique
from tests.notification_receiver import running_receiver
from tests.process_family import FAMILY, alive, members
from tests.temporal import activity_completed, list_workflows, trigger_schedule


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_orchestrator_sigkilled_mid_run_and_restarted(fault_stack: Stack, fault_admin: Api) -> None:
    task = fault_admin.create_task(parameters={"command": "sleep 4; echo finished"})
    run_id = fault_admin.trigger(task["id"])
    eventually(lambda: fault_admin.run(run_id)["status"] == "Running", timeout=30)
    os.kill(fault_stack.processes["orchestrator"].pid, signal.SIGKILL)
    fault_stack.processes["orchestrator"].wait()
    # The attempt finishes while no orchestrator is there to hear it.
    workflow_id = fault_admin.run(run_id)["workflow_id"]
    eventually(lambda: activity_completed(fault_stack.temporal_address, workflow_id), timeout=30)
    assert fault_admin.run(run_id)["status"] == "Running"
    fault_stack.start("orchestrator", "worker_main.py", "--orchestrator")
    run = fault_admin.wait_for_run(run_id, timeout=60)
    assert run["status"] == "Completed", run
    assert run["result"] == "finished\n"
    assert run["retry_count"] == 0  # the attempt was not re-run
    assert run["execution_duration_ms"] >= 4000
    runs = fault_admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]
    assert runs["total"] == 1


def test_orchestrator_sigkilled_while_a_delivery_retries_delivers_it_once(
    fault_stack: Stack, fault_admin: Api
) -> None:
    with running_receiver() as receiver:
        receiver.otherwise = 500  # refuse until the orchestrator is gone
        created = fault_admin.post(
            "/api/notification-channels",
            json={"name": unique("hook"), "type": "webhook", "config": {"url": receiver.url()}},
        )
        assert created.status_code == 201, created.text
        task = fault_admin.create_task(
            parameters={"command": "exit 1"},
            notifications=[{"channel_id": created.json()["data"]["id"], "on": ["failure"]}],
        )
        run_id = fault_admin.trigger(task["id"])
        eventually(lambda: len(receiver.snapshot()) >= 2 or None, timeout=30)
        os.kill(fault_stack.processes["orchestrator"].pid, signal.SIGKILL)
        fault_stack.processes["orchestrator"].wait()
        receiver.otherwise = 200
        refused = len(receiver.snapshot())
        fault_stack.start("orchestrator", "worker_main.py", "--orchestrator")

        def delivered() -> dict[str, object] | None:
            rows = fault_admin.get(f"/api/task-runs/{run_id}/notifications").json()["data"]
            return rows[0] if rows and rows[0]["delivered_at"] else None

        row = eventually(delivered, timeout=60, interval=0.25)
        time.sleep(2)  # nothing further arrives once it is delivered
        statuses = [r.status for r in receiver.snapshot()]
    assert statuses.count(200) == 1 and statuses[-1] == 200
    assert set(statuses[:refused]) == {500}
    assert row["attempts"] == len(statuses)
    assert {r.json["event_id"] for r in receiver.snapshot()} == {f"run-{run_id}-failure"}


def test_shell_worker_sigkilled_mid_run_leaves_no_task_process(
    fault_stack: Stack, fault_admin: Api, task_tmp: Path
) -> None:
    pids, first = task_tmp / "pids", task_tmp / "first-attempt"
    # The first attempt leaves a grandchild; the retry, on the restarted worker, just succeeds.
    command = f"if [ -e {first} ]; then echo retried; exit 0; fi; touch {first}; "
    task = fault_admin.create_task(parameters={"command": command + FAMILY.format(pids=pids)})
    run_id = fault_admin.trigger(task["id"])
    shell, sleep = members(pids)
    worker = fault_stack.processes["shell"]
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    # Not left running while Temporal retries the attempt elsewhere: nothing runs twice.
    eventually(lambda: not alive(shell) and not alive(sleep), timeout=15)
    fault_stack.start("shell", "worker_main.py", "--task-type", "shell")
    run = fault_admin.wait_for_run(run_id, timeout=120)
    assert run["status"] == "Completed", run
    assert run["result"] == "retried\n"


def test_temporal_down_loses_and_duplicates_nothing(fault_stack: Stack, fault_admin: Api) -> None:
    minutely = fault_admin.create_task(schedule="* * * * *", parameters={"command": "echo tick"})
    long = fault_admin.create_task(parameters={"command": "sleep 5; echo survived"})
    # Triggered while the server is down; quick, so their runs end soon after it is back.
    later_task = fault_admin.create_task(parameters={"command": "echo accepted"})
    run_id = fault_admin.trigger(long["id"])
    eventually(lambda: fault_admin.run(run_id)["status"] == "Running", timeout=30)

    # Longer than the attempt has left (and than the heartbeat timeout): it
    # finishes while the server is down, and its completion must still reach
    # the run once the server is back.
    devstack.stop(fault_stack.processes["temporal"])
    # Triggers keep being accepted through the outage and wait Pending for it to end.
    down_until = time.monotonic() + 9
    accepted: list[int] = []
    while time.monotonic() < down_until:
        response = fault_admin.post(f"/api/tasks/{later_task['id']}/trigger")
        assert response.status_code == 201, response.text
        accepted.append(response.json()["data"]["task_run_id"])
        # A trigger waits up to the outbox start timeout (2 s) for the server to take it.
        time.sleep(max(0.0, min(1.0, down_until - time.monotonic())))
    assert len(accepted) >= 3
    assert {fault_admin.run(r)["status"] for r in accepted} == {"Pending"}
    restarted_at = datetime.now(UTC)
    fault_stack.start_temporal()

    run = fault_admin.wait_for_run(run_id, timeout=120)
    assert run["status"] == "Completed", run
    assert run["result"] == "survived\n"
    for accepted_id in accepted:
        later = fault_admin.wait_for_run(accepted_id, timeout=120)
        assert (later["status"], later["result"]) == ("Completed", "accepted\n"), later

    # The schedule survived the restart (the server's database file) and fires
    # into a run again; no minute boundary is waited for.
    trigger_schedule(fault_stack.temporal_address, minutely["id"])

    def fired_after_restart() -> list[dict[str, object]] | None:
        items = fault_admin.get(
            f"/api/tasks/{minutely['id']}/runs", params={"page_size": 100}
        ).json()["data"]["items"]
        later = [r for r in items if at(str(r["scheduled_at"])) > restarted_at]
        return items if later and all(r["status"] == "Completed" for r in later) else None

    items = eventually(fired_after_restart, timeout=60, interval=1)
    fault_admin.patch(f"/api/tasks/{minutely['id']}", json={"status": "Inactive"})
    fire_times = [str(r["scheduled_at"]) for r in items]
    assert len(fire_times) == len(set(fire_times)), "a fire time was run twice"
    workflow_ids = [str(r["workflow_id"]) for r in items]
    assert len(workflow_ids) == len(set(workflow_ids))

    # Every run Temporal started is mirrored exactly once (visibility lags a little).
    def mirrored_exactly() -> bool:
        started = list_workflows(fault_stack.temporal_address, f"TaskId = {minutely['id']}")
        items = fault_admin.get(
            f"/api/tasks/{minutely['id']}/runs", params={"page_size": 100}
        ).json()["data"]["items"]
        return sorted(w.id for w in started) == sorted(str(r["workflow_id"]) for r in items)

    eventually(mirrored_exactly, timeout=20, interval=1)
