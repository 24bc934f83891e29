"""Orchestration overhead: shell runs through the REST API against Temporal's bare limit.

    .venv/bin/python -m bench.orchestration --runs 1000 --concurrency 100

Both sides run closed loops of ``--concurrency`` slots on the same dev server,
in the same process run: a slot starts one run and starts the next once the
previous one is finished. Each side runs twice, half the runs each time, in
the order bare, scheduler, scheduler, bare.

- scheduler: ``POST /api/tasks/{id}/trigger`` of a shell task running ``true``,
  done when the API shows the run ``Completed`` (one poller lists the task's
  runs page by page every ``--poll-interval`` seconds for all slots);
- bare: ``client.execute_workflow`` of a workflow that executes one no-op
  activity (``bench/bare.py``), with its Worker inside this process.

Then ``--latency-runs`` sequential runs (C=1) of each give trigger→Completed
latency (the poll of ``GET /api/task-runs/{id}`` every 10 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare import BareWorkflow, noop
from bench.profiling import profiled
from bench.report import Report, cpu_seconds, percentile, postgres_backends
from bench.stack import TERMINAL, ApiClient, add_stack_arguments, api_client, bench_stack, settle
from tests.conftest import Stack


@dataclass
class Phase:
    """The outcome of one closed loop."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def add(self, other: Phase) -> None:
        self.latencies += other.latencies
        self.failures += other.failures
        self.elapsed += other.elapsed


class CpuMeter:
    """CPU seconds each process of the stack (and this one) spends inside ``with`` blocks.

    On Postgres it also counts the server processes serving the stack's
    database: the mirror writes' cost to the database shares the same cores.
    """

    DATABASE = "postgres (the stack's database)"

    def __init__(self, stack: Stack) -> None:
        self._pids = {name: process.pid for name, process in stack.processes.items()}
        self._pids["bench (client + bare worker)"] = os.getpid()
        url = make_url(stack.database_url)
        self._database = url.database if url.get_backend_name() == "postgresql" else None
        self.used = dict.fromkeys(self._pids, 0.0)
        if self._database:
            self.used[self.DATABASE] = 0.0
        self._start: dict[str, float] = {}
        self._backends: dict[int, float] = {}

    def __enter__(self) -> None:
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        if self._database:
            self._backends = {pid: cpu_seconds(pid) for pid in postgres_backends(self._database)}

    def __exit__(self, *_: object) -> None:
        for name, pid in self._pids.items():
            self.used[name] += cpu_seconds(pid) - self._start[name]
        if self._database:
            # A backend that appeared meanwhile (a new pooled connection) counts
            # from its start; one that closed meanwhile is lost (pools keep theirs).
            self.used[self.DATABASE] += sum(
                cpu_seconds(pid) - self._backends.get(pid, 0.0)
                for pid in postgres_backends(self._database)
            )

    def per_run_ms(self, runs: int) -> dict[str, float]:
        return {name: round(1000 * used / runs, 2) for name, used in self.used.items() if used}


def _profiled_pids(stack: Stack) -> dict[str, int]:
    return {name: stack.processes[name].pid for name in ("api", "orchestrator", "shell")}


async def closed_loop(runs: int, concurrency: int, one: Callable[[], Awaitable[bool]]) -> Phase:
    """``runs`` calls of ``one`` by ``concurrency`` slots; ``one`` says whether it succeeded."""
    phase = Phase()
    remaining = runs

    async def slot() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            began = time.perf_counter()
            succeeded = await one()
            phase.latencies.append(time.perf_counter() - began)
            phase.failures += not succeeded

    began = time.perf_counter()
    await asyncio.gather(*(slot() for _ in range(min(concurrency, runs))))
    phase.elapsed = time.perf_counter() - began
    return phase


async def bare_phase(client: Client, queue: str, runs: int, concurrency: int) -> Phase:
    async def one() -> bool:
        await client.execute_workflow(
            BareWorkflow.run, id=f"bench-bare-{uuid.uuid4().hex}", task_queue=queue
        )
        return True

    return await closed_loop(runs, concurrency, one)


class CompletionWatcher:
    """One poller for every slot: lists the task's runs, newest first, until the oldest awaited."""

    def __init__(self, api: ApiClient, task_id: int, interval: float) -> None:
        self._api = api
        self._task_id = task_id
        self._interval = interval
        self._waiting: dict[int, asyncio.Future[str]] = {}
        self.requests = 0

    async def finished(self, run_id: int) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[run_id] = future
        return await future

    async def run_forever(self) -> None:
        while True:
            if self._waiting:
                await self._poll_once(min(self._waiting))
            await asyncio.sleep(self._interval)

    async def _poll_once(self, oldest: int) -> None:
        page = 1
        while True:
            data = await self._api.runs_page(self._task_id, page)
            self.requests += 1
            for run in data["items"]:
                future = self._waiting.get(run["id"])
                if future is not None and run["status"] in TERMINAL:
                    del self._waiting[run["id"]]
                    future.set_result(run["status"])
            items = data["items"]
            if not items or items[-1]["id"] <= oldest or page >= data["total_pages"]:
                return
            page += 1


async def scheduler_phase(
    api: ApiClient, task_id: int, runs: int, concurrency: int, interval: float
) -> tuple[Phase, int]:
    watcher = CompletionWatcher(api, task_id, interval)
    polling = asyncio.create_task(watcher.run_forever())

    async def one() -> bool:
        return await watcher.finished(await api.trigger(task_id)) == "Completed"

    try:
        return await closed_loop(runs, concurrency, one), watcher.requests
    finally:
        polling.cancel()


async def sequential_api_latency(api: ApiClient, task_id: int, runs: int) -> Phase:
    async def one() -> bool:
        run = await api.wait_for_run(await api.trigger(task_id), interval=0.01)
        return bool(run["status"] == "Completed")

    return await closed_loop(runs, 1, one)


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    client = await stack.temporal_client()
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    async with (
        api_client(stack.base_url, connections=args.concurrency + 10) as api,
        Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]),
    ):
        task = await api.create_task(parameters={"command": "true"})
        await settle(api, task["id"], runs=args.warmup)
        await bare_phase(client, queue, args.warmup, 1)

        # A B B A: drift (the dev server's history growing, other load on the
        # machine) weighs on both sides alike.
        bare, ours, poll_requests = Phase(), Phase(), 0
        cpu = {"b": CpuMeter(stack), "s": CpuMeter(stack)}
        half = args.runs // 2
        with profiled(_profiled_pids(stack), args.profile):
            for size, order in ((half, "bs"), (args.runs - half, "sb")):
                for side in order:
                    with cpu[side]:
                        if side == "b":
                            bare.add(await bare_phase(client, queue, size, args.concurrency))
                        else:
                            phase, polls = await scheduler_phase(
                                api, task["id"], size, args.concurrency, args.poll_interval
                            )
                            ours.add(phase)
                            poll_requests += polls
        ours_c1 = await sequential_api_latency(api, task["id"], args.latency_runs)
        bare_c1 = await bare_phase(client, queue, args.latency_runs, 1)

    ratio = ours.rate / bare.rate if bare.rate else 0.0
    c = args.concurrency
    report.add(f"bare runs/s (C={c})", bare.rate, "runs/s")
    report.add(f"scheduler runs/s (C={c})", ours.rate, "runs/s")
    report.add("ratio scheduler / bare", ratio, "", target=">= 0.7", met=ratio >= 0.7)
    report.add(f"scheduler latency p50 (C={c})", percentile(ours.latencies, 50), "s")
    report.add(f"scheduler latency p99 (C={c})", percentile(ours.latencies, 99), "s")
    report.add(f"bare latency p50 (C={c})", percentile(bare.latencies, 50), "s")
    report.add(f"bare latency p99 (C={c})", percentile(bare.latencies, 99), "s")
    p50, p99 = percentile(ours_c1.latencies, 50), percentile(ours_c1.latencies, 99)
    report.add("trigger->Completed p50 (C=1)", p50, "s", target="<= 0.25 s", met=p50 <= 0.25)
    report.add("trigger->Completed p99 (C=1)", p99, "s", target="<= 1 s", met=p99 <= 1.0)
    report.add("bare start->result p50 (C=1)", percentile(bare_c1.latencies, 50), "s")
    report.add("bare start->result p99 (C=1)", percentile(bare_c1.latencies, 99), "s")
    failures = ours.failures + ours_c1.failures
    report.add("scheduler runs not Completed", failures, "runs", target="0", met=failures == 0)
    report.note(
        f"completion seen by polling the task's runs every {args.poll_interval}s"
        f" ({poll_requests} list requests); C=1 latency polls the run every 10 ms"
    )
    for side, name in (("b", "bare"), ("s", "scheduler")):
        per_run = cpu[side].per_run_ms(args.runs)
        report.note(
            f"CPU ms per run, {name}: "
            + ", ".join(f"{proc} {ms}" for proc, ms in per_run.items())
            + f" (total {sum(per_run.values()):.1f})"
        )
    report.details = {
        "cpu_ms_per_run": {
            "bare": cpu["b"].per_run_ms(args.runs),
            "scheduler": cpu["s"].per_run_ms(args.runs),
        },
        "bare": {"elapsed_s": bare.elapsed, "runs": len(bare.latencies)},
        "scheduler": {"elapsed_s": ours.elapsed, "runs": len(ours.latencies)},
        "scheduler_c1_latencies_s": ours_c1.latencies,
        "bare_c1_latencies_s": bare_c1.latencies,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs per side (default 1000)")
    parser.add_argument("--concurrency", type=int, default=100, help="slots (default 100)")
    parser.add_argument("--latency-runs", type=int, default=50, help="runs at C=1 (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    parser.add_argument("--poll-interval", type=float, default=0.25, help="seconds (0.25)")
    parser.add_argument(
        "--profile", type=Path, help="py-spy the API, orchestrator and shell worker into DIR"
    )
    add_stack_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "orchestration",
        {
            "runs": args.runs,
            "concurrency": args.concurrency,
            "latency_runs": args.latency_runs,
            "backend": args.backend,
        },
    )
    with bench_stack(args) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
