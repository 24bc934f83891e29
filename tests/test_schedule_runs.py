"""What the schedule policy does to real runs: backfill, the overlap policies, jitter.

Fires are made with Temporal's own fast paths (backfill, ``ScheduleHandle.trigger``)
wherever the behaviour allows it; only jitter needs a real minute boundary, and
its tasks are created when the module starts so that wait passes while the other
tests run. The overlap policies' fires are all made at once, one task per policy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from tests.conftest import Stack
from tests.helpers import Api, eventually, unique

# What is under test is Temporal's schedule behaviour (backfill, overlap, jitter);
# the mirror writes these runs make are held on both backends by tests/persistence
# and the lifecycle tests, so this module runs once (on Postgres in CI).
pytestmark = pytest.mark.one_backend

NEVER = "0 0 1 1 *"
FINAL = {"Completed", "Failed", "Timeout"}


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def runs_of(api: Api, task_id: int, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/api/tasks/{task_id}/runs", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


def closed_executions(stack: Stack, task_id: int) -> int:
    async def count() -> int:
        client = await Client.connect(
            stack.temporal_address, namespace=stack.env.get("TEMPORAL_NAMESPACE", "default")
        )
        query = f"TaskId = {task_id} AND ExecutionStatus != 'Running'"
        return len([wf async for wf in client.list_workflows(query)])

    return asyncio.run(count())


def trigger_schedules(stack: Stack, task_ids: Sequence[int]) -> None:
    """One fire now of each task, through its schedule (its overlap policy applies)."""

    async def fire() -> None:
        client = await Client.connect(
            stack.temporal_address, namespace=stack.env.get("TEMPORAL_NAMESPACE", "default")
        )
        await asyncio.gather(
            *(client.get_schedule_handle(f"task-{task_id}").trigger() for task_id in task_ids)
        )

    asyncio.run(fire())
    # A fire's workflow id carries its time to the second: the next trigger must not share it.
    time.sleep(1.1)


JITTER_SECONDS = 15


@pytest.fixture(scope="module", autouse=True)
def jitter_tasks(stack: Stack) -> Iterator[list[dict[str, Any]]]:
    """Five tasks firing every minute with jitter, made before every other test of
    the module: their first fire (the next minute boundary) comes while those run."""
    api = stack.api("admin")
    tasks = [
        api.create_task(
            name=unique("jitter"),
            schedule="* * * * *",
            jitter_seconds=JITTER_SECONDS,
            parameters={"command": "true"},
        )
        for _ in range(5)
    ]
    try:
        yield tasks
    finally:
        for task in tasks:
            api.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
        api.close()


@pytest.mark.parametrize(
    ("schedule", "policy", "start", "end"),
    [
        ("30 1 * * *", "cron", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z"),
        ("30 1 * * *", "strict", "2026-10-31T00:00:00Z", "2026-11-02T12:00:00Z"),
        ("30 2 * * *", "cron", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z"),
    ],
)
def test_backfill_over_a_past_change_runs_the_previewed_fires_once(
    stack: Stack, admin: Api, schedule: str, policy: str, start: str, end: str
) -> None:
    task = admin.create_task(
        name=unique("backfill"),
        schedule=schedule,
        timezone="America/New_York",
        dst_policy=policy,
        status="Inactive",
        parameters={"command": "true"},
    )
    preview = admin.post(
        "/api/schedules/preview",
        json={
            "schedule": schedule,
            "timezone": "America/New_York",
            "dst_policy": policy,
            "after": (parse(start) - timedelta(seconds=1)).isoformat(),
            "count": 100,
        },
    ).json()["data"]["next_runs"]
    expected = sorted(run["at"] for run in preview if parse(run["at"]) <= parse(end))
    assert len(expected) == (4 if policy == "strict" else 3)

    path = f"/api/tasks/{task['id']}/backfill"
    answer = admin.post(path, json={"start": start, "end": end})
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["fires"] == len(expected)

    def all_ran() -> list[dict[str, Any]] | None:
        found = runs_of(admin, task["id"], trigger="backfill")
        done = len(found) == len(expected) and all(run["status"] in FINAL for run in found)
        return found if done else None

    ran = eventually(all_ran, timeout=90)
    assert sorted(run["scheduled_at"] for run in ran) == expected
    assert {run["status"] for run in ran} == {"Completed"}
    assert {run["triggered_by"] for run in ran} == {"admin"}

    again = admin.post(path, json={"start": start, "end": end})
    assert again.status_code == 202, again.text
    # Temporal starts every fire again (a closed fire's id may be reused) and each
    # start finds its run already finished: wait until all of them have closed.
    eventually(lambda: closed_executions(stack, task["id"]) >= 2 * len(expected) or None, 60)
    after = runs_of(admin, task["id"])
    assert sorted(run["id"] for run in after) == sorted(run["id"] for run in ran)


def _wait_status(api: Api, run_id_of: Any, statuses: set[str], timeout: float = 60) -> Any:
    def check() -> Any:
        run = run_id_of()
        return run if run is not None and run["status"] in statuses else None

    return eventually(check, timeout=timeout)


def _nth_run(api: Api, task_id: int, index: int) -> Any:
    def pick() -> dict[str, Any] | None:
        found = sorted(runs_of(api, task_id), key=lambda run: run["scheduled_at"])
        return found[index] if len(found) > index else None

    return pick


OVERLAP_CASES = [
    ("skip", 2, 1),
    ("buffer_one", 3, 2),
    ("buffer_all", 3, 3),
    ("allow_all", 2, 2),
    ("cancel_other", 2, 2),
    ("terminate_other", 2, 2),
]


@dataclass(frozen=True)
class OverlapCase:
    task_id: int
    first: dict[str, Any]
    """The first fire's run, seen ``Running`` before the further fires were made."""


@pytest.fixture(scope="module")
def overlap_cases(stack: Stack) -> Iterator[dict[str, OverlapCase]]:
    """One task per overlap policy, fired together: a first fire each, and once
    every first run is running, the further fires (a second apart) while it is."""
    api = stack.api("admin")
    try:
        task_ids = {
            policy: api.create_task(
                name=unique(f"overlap-{policy}"),
                schedule=NEVER,
                overlap_policy=policy,
                parameters={"command": "sleep 4"},
            )["id"]
            for policy, _, _ in OVERLAP_CASES
        }
        trigger_schedules(stack, list(task_ids.values()))
        firsts = {
            policy: _wait_status(api, _nth_run(api, task_id, 0), {"Running"})
            for policy, task_id in task_ids.items()
        }
        for made in range(1, max(fires for _, fires, _ in OVERLAP_CASES)):
            trigger_schedules(
                stack, [task_ids[policy] for policy, fires, _ in OVERLAP_CASES if fires > made]
            )
        yield {policy: OverlapCase(task_ids[policy], firsts[policy]) for policy in task_ids}
    finally:
        api.close()


@pytest.mark.parametrize(("policy", "fires", "runs"), OVERLAP_CASES)
def test_each_overlap_policy_is_observed(
    stack: Stack,
    admin: Api,
    overlap_cases: dict[str, OverlapCase],
    policy: str,
    fires: int,
    runs: int,
) -> None:
    task_id, first = overlap_cases[policy].task_id, overlap_cases[policy].first

    def settled() -> list[dict[str, Any]] | None:
        found = sorted(runs_of(admin, task_id), key=lambda run: run["scheduled_at"])
        return found if len(found) == runs and all(r["status"] in FINAL for r in found) else None

    ended = eventually(settled, timeout=90)
    assert ended[0]["id"] == first["id"]
    if policy in ("cancel_other", "terminate_other"):
        verb = "cancelled" if policy == "cancel_other" else "terminated"
        assert ended[0]["status"] == "Failed"
        assert ended[0]["error_message"].startswith(f"{verb} by overlap policy {policy}")
        assert f"replaced by run {ended[1]['id']}" in ended[0]["error_message"]
        assert ended[1]["status"] == "Completed"
        return
    assert {run["status"] for run in ended} == {"Completed"}
    starts = [parse(run["started_at"]) for run in ended]
    finishes = [parse(run["completed_at"]) for run in ended]
    if policy == "allow_all":
        assert starts[1] < finishes[0]  # side by side
    else:
        for previous_end, next_start in zip(finishes, starts[1:], strict=False):
            assert next_start >= previous_end  # one after another
    if policy == "skip":
        described = asyncio.run(_describe(stack, task_id))
        assert described >= fires - runs


async def _describe(stack: Stack, task_id: int) -> int:
    client = await Client.connect(
        stack.temporal_address, namespace=stack.env.get("TEMPORAL_NAMESPACE", "default")
    )
    info = (await client.get_schedule_handle(f"task-{task_id}").describe()).info
    return info.num_actions_skipped_overlap


def test_jitter_spreads_started_at_and_keeps_scheduled_at(
    admin: Api, jitter_tasks: list[dict[str, Any]]
) -> None:
    # Five tasks: all five offsets drawn within one second of each other in 15 s
    # of jitter is about a 1 in 10000 chance.
    tasks = jitter_tasks

    def first_runs() -> list[dict[str, Any]] | None:
        found = []
        for task in tasks:
            done = [run for run in runs_of(admin, task["id"]) if run["status"] == "Completed"]
            if not done:
                return None
            found.append(min(done, key=lambda run: run["scheduled_at"]))
        return found

    ran = eventually(first_runs, timeout=150, interval=1.0)
    offsets = []
    for run in ran:
        scheduled = parse(run["scheduled_at"])
        assert scheduled.second == 0 and scheduled.microsecond == 0  # the nominal minute
        offsets.append((parse(run["started_at"]) - scheduled).total_seconds())
    assert all(0 <= offset <= JITTER_SECONDS + 5 for offset in offsets), offsets
    assert max(offsets) - min(offsets) >= 1, offsets
