"""An API that dies between its two writes leaves nothing inconsistent; a burst of
triggers makes exactly one run each."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.helpers import Api, eventually, unique
from tests.processes import extra_api
from tests.temporal import describe_schedule


def create_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "task_type": "shell",
        "schedule": "0 0 1 1 *",
        "parameters": {"command": "true"},
    }


@pytest.mark.parametrize("crash_point", ["create:after-row", "create:after-schedule"])
def test_api_killed_between_row_and_schedule(
    fault_stack: Stack, fault_admin: Api, crash_point: str
) -> None:
    last = fault_admin.create_task()
    name = unique("crashed")
    with extra_api(
        fault_stack, f"api-{crash_point}", {"SCHEDULER_FAULT_INJECTION": crash_point}
    ) as doomed:
        crashing = Api(doomed.base_url, "admin")
        with pytest.raises(httpx.TransportError):
            crashing.post("/api/tasks", json=create_body(name))
        assert doomed.process.wait(timeout=10) == 70
    # The row was never committed ...
    assert fault_admin.get("/api/tasks", params={"name": name}).json()["data"]["total"] == 0
    # ... and a schedule created for it is removed by the reconciler.
    suspect = last["id"] + 1
    eventually(
        lambda: describe_schedule(fault_stack.temporal_address, suspect) is None,
        timeout=30,
        interval=0.25,
    )
    # The API that stayed up works on: the same name can be created now.
    task = fault_admin.create_task(name=name)
    described = describe_schedule(fault_stack.temporal_address, task["id"])
    assert described is not None
    assert described.schedule.state.paused is False


def test_api_killed_between_trigger_commit_and_start(fault_stack: Stack, fault_admin: Api) -> None:
    """The caller got no answer, but the committed trigger runs (the relay starts it),
    once, and nothing marks it Failed."""
    task = fault_admin.create_task(parameters={"command": "echo relayed"})
    with extra_api(
        fault_stack, "api-trigger-crash", {"SCHEDULER_FAULT_INJECTION": "trigger:after-commit"}
    ) as doomed:
        crashing = Api(doomed.base_url, "admin")
        with pytest.raises(httpx.TransportError):
            crashing.post(f"/api/tasks/{task['id']}/trigger")
        assert doomed.process.wait(timeout=10) == 70
    runs = fault_admin.get(f"/api/tasks/{task['id']}/runs").json()["data"]["items"]
    assert len(runs) == 1
    run = fault_admin.wait_for_run(runs[0]["id"], timeout=60)
    assert (run["status"], run["result"]) == ("Completed", "relayed\n"), run
    assert run["workflow_id"] == f"task-{task['id']}-manual-{run['id']}"


def test_500_concurrent_triggers_make_exactly_500_runs(
    fault_stack: Stack, fault_admin: Api
) -> None:
    task = fault_admin.create_task(parameters={"command": "true"})
    token = fault_admin.token

    async def burst() -> list[int]:
        limits = asyncio.Semaphore(50)
        async with httpx.AsyncClient(
            base_url=fault_stack.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as client:

            async def trigger() -> int:
                async with limits:
                    response = await client.post(f"/api/tasks/{task['id']}/trigger")
                assert response.status_code == 201, response.text
                run_id: int = response.json()["data"]["task_run_id"]
                return run_id

            return list(await asyncio.gather(*(trigger() for _ in range(500))))

    run_ids = asyncio.run(burst())
    assert len(set(run_ids)) == 500

    def all_finished() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = []
        for page in range(1, 6):
            items += fault_admin.get(
                f"/api/tasks/{task['id']}/runs", params={"page": page, "page_size": 100}
            ).json()["data"]["items"]
        finished = [r for r in items if r["status"] in ("Completed", "Failed", "Timeout")]
        return items if len(finished) == 500 else None

    items = eventually(all_finished, timeout=300, interval=2)
    assert len(items) == 500
    assert {r["id"] for r in items} == set(run_ids)
    assert len({r["workflow_id"] for r in items}) == 500
    assert all(r["status"] == "Completed" for r in items)
    stats = fault_admin.get(f"/api/tasks/{task['id']}/stats").json()["data"]
    assert stats["total_runs"] == stats["successful_runs"] == 500
