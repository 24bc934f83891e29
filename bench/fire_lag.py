"""Schedule fire lag: K tasks on ``* * * * *``, from the minute boundary to each run's start.

    .venv/bin/python -m bench.fire_lag --tasks 200

The tasks are created through the API; the benchmark then waits for the next
minute boundary and for every task's run of that fire, and reports
``started_at - scheduled_at`` (``scheduled_at`` is the schedule's nominal
fire time, the minute boundary). ``--fires`` waits for more boundaries.

First, as a baseline on the same dev server, as many bare workflows (one
no-op activity) are started at once by the client, and the time from their
start to their activity's start is reported.

``--trigger-now`` does not wait for a boundary: it fires every schedule at
once with Temporal's ``ScheduleHandle.trigger()``, so ``scheduled_at`` is the
trigger time. The CI smoke uses it to stay fast; it measures the same path
(schedule action -> workflow -> executor) but not the minute-boundary burst
timing of the scheduler inside Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare import BareStampWorkflow, noop_started
from bench.profiling import profiled
from bench.report import Report, percentile
from bench.stack import (
    TERMINAL,
    ApiClient,
    add_stack_arguments,
    api_client,
    bench_stack,
    settle,
)
from tests.conftest import Stack


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def create_tasks(api: ApiClient, count: int, concurrency: int) -> list[int]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> int:
        async with gate:
            task = await api.create_task(schedule="* * * * *", parameters={"command": "true"})
            task_id: int = task["id"]
            return task_id

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def fired_runs(
    api: ApiClient, task_ids: list[int], after: datetime, within: float
) -> dict[int, dict[str, Any]]:
    """Each task's first finished run scheduled at or after ``after``."""
    found: dict[int, dict[str, Any]] = {}
    gate = asyncio.Semaphore(10)

    async def look(task_id: int) -> None:
        async with gate:
            page = await api.runs_page(task_id, 1, page_size=5)
        mine = [
            run
            for run in page["items"]
            if _at(run["scheduled_at"]) >= after and run["status"] in TERMINAL
        ]
        if mine:
            found[task_id] = min(mine, key=lambda run: _at(run["scheduled_at"]))

    async with asyncio.timeout(within):
        while len(found) < len(task_ids):
            await asyncio.gather(*(look(t) for t in task_ids if t not in found))
            if len(found) < len(task_ids):
                await asyncio.sleep(0.5)
    return found


async def one_fire(
    api: ApiClient, client: Client, task_ids: list[int], trigger_now: bool
) -> tuple[datetime, list[dict[str, Any]]]:
    """Fire once (a minute boundary, or a trigger); the fire time and each task's run of it."""
    if trigger_now:
        fire = datetime.now(UTC) - timedelta(seconds=1)
        await asyncio.gather(
            *(client.get_schedule_handle(f"task-{task_id}").trigger() for task_id in task_ids)
        )
    else:
        now = datetime.now(UTC)
        fire = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        await asyncio.sleep((fire - now).total_seconds())
    runs = await fired_runs(api, task_ids, fire, within=300)
    return fire, list(runs.values())


def _between(runs: list[dict[str, Any]], later: str, earlier: str) -> list[float]:
    return [
        (_at(run[later]) - _at(run[earlier])).total_seconds()
        for run in runs
        if run[later] and run[earlier]
    ]


async def bare_burst(client: Client, count: int) -> list[float]:
    """``count`` bare workflows started at once: start -> activity start, in seconds."""
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[BareStampWorkflow], activities=[noop_started]
    ):
        await client.execute_workflow(
            BareStampWorkflow.run, id=f"bench-{uuid.uuid4().hex}", task_queue=queue
        )
        began = time.time()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    BareStampWorkflow.run, id=f"bench-{uuid.uuid4().hex}", task_queue=queue
                )
                for _ in range(count)
            )
        )
        started = await asyncio.gather(*(handle.result() for handle in handles))
    return [moment - began for moment in started]


async def workflow_starts(client: Client, runs: list[dict[str, Any]]) -> None:
    """Add each run's workflow start time in Temporal as ``workflow_started_at``."""
    gate = asyncio.Semaphore(20)

    async def one(run: dict[str, Any]) -> None:
        async with gate:
            described = await client.get_workflow_handle(run["workflow_id"]).describe()
        run["workflow_started_at"] = described.start_time.isoformat()

    await asyncio.gather(*(one(run) for run in runs))


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    client = await stack.temporal_client()
    async with api_client(stack.base_url) as api:
        await settle(api, (await api.create_task())["id"], runs=3)
        # Before the tasks exist, so their schedules do not fire into it.
        bare = await bare_burst(client, args.tasks) if args.bare_baseline else []
        began = time.perf_counter()
        task_ids = await create_tasks(api, args.tasks, args.create_concurrency)
        report.details["create_seconds"] = time.perf_counter() - began
        runs: list[dict[str, Any]] = []
        fires: list[str] = []
        pids = {name: stack.processes[name].pid for name in ("orchestrator", "shell")}
        with profiled(pids, args.profile):
            for _ in range(args.fires):
                fire, these = await one_fire(api, client, task_ids, args.trigger_now)
                fires.append(fire.isoformat())
                runs.extend(these)
        await workflow_starts(client, runs)
    lags = _between(runs, "started_at", "scheduled_at")
    fired = _between(runs, "workflow_started_at", "scheduled_at")
    begun = _between(runs, "created_at", "workflow_started_at")
    to_start = _between(runs, "started_at", "created_at")
    failed = sum(run["status"] != "Completed" for run in runs)
    p99 = percentile(lags, 99)
    kind = "trigger" if args.trigger_now else "minute boundary"
    report.add(f"fire lag p50 ({kind} -> started_at)", percentile(lags, 50), "s")
    report.add(f"fire lag p99 ({kind} -> started_at)", p99, "s", target="<= 1 s", met=p99 <= 1.0)
    report.add("fire lag max", max(lags) if lags else None, "s")
    report.add(f"{kind} -> workflow started in Temporal p50", percentile(fired, 50), "s")
    report.add(f"{kind} -> workflow started in Temporal p99", percentile(fired, 99), "s")
    report.add("workflow started -> run row created p50", percentile(begun, 50), "s")
    report.add("workflow started -> run row created p99", percentile(begun, 99), "s")
    report.add("run row created -> started_at p50", percentile(to_start, 50), "s")
    report.add("run row created -> started_at p99", percentile(to_start, 99), "s")
    if bare:
        report.add(f"bare baseline: {len(bare)} started at once p50", percentile(bare, 50), "s")
        report.add(f"bare baseline: {len(bare)} started at once p99", percentile(bare, 99), "s")
        report.note(
            "bare baseline: workflows with one no-op activity started together by the client"
            " on the same dev server; start -> activity start"
        )
    report.add("runs measured", len(lags), "runs")
    report.add("runs not Completed", failed, "runs", target="0", met=failed == 0)
    report.note(
        "workflow started = its start time in Temporal (describe); run row created = the"
        " orchestrator's begin_run mirror write (created_at)"
    )
    if args.trigger_now:
        report.note("--trigger-now: schedules fired by ScheduleHandle.trigger(), not by cron")
    report.details.update({"fires": fires, "lags_s": lags, "fired_s": fired, "created_s": begun})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200, help="tasks (default 200)")
    parser.add_argument("--fires", type=int, default=1, help="fires to measure (default 1)")
    parser.add_argument("--create-concurrency", type=int, default=10, help="(default 10)")
    parser.add_argument(
        "--trigger-now", action="store_true", help="fire by trigger(), not at a minute boundary"
    )
    parser.add_argument(
        "--no-bare-baseline",
        dest="bare_baseline",
        action="store_false",
        help="skip the burst of bare workflows measured after the fires",
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the orchestrator and shell worker into DIR"
    )
    add_stack_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "fire_lag",
        {
            "tasks": args.tasks,
            "fires": args.fires,
            "trigger_now": args.trigger_now,
            "backend": args.backend,
        },
    )
    with bench_stack(args) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
