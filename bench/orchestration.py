"""Orchestration overhead: shell runs through the REST API against bare Temporal doing the same.

    .venv/bin/python -m bench.orchestration --runs 1000 --concurrency 100

Every side runs closed loops of ``--concurrency`` slots on the same dev server,
in the same process run: a slot starts one run and starts the next once the
previous one is finished. Each side runs twice, half the runs each time, in
the order bare, poll, wait, wait, poll, bare, so drift weighs on all alike.

- bare: ``client.execute_workflow`` (a plain client) of a workflow whose one
  activity runs ``sh -c true`` as a subprocess (``bench/bare.py``), on a
  worker process of its own with as many activity slots as the scheduler's
  executors;
- poll: ``POST /api/tasks/{id}/trigger`` of a shell task running ``true``,
  done when the API shows the run ``Completed`` (one poller lists the task's
  runs page by page every ``--poll-interval`` seconds for all slots);
- wait: ``POST /api/tasks/{id}/trigger?wait=300``, done when its answer holds
  the run ``Completed``.

Then ``--latency-runs`` sequential runs (C=1) of each give trigger→Completed
latency (poll: ``GET /api/task-runs/{id}`` every 10 ms). ``--orchestrators N
--executors M`` start N orchestrator and M shell worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from temporalio.client import Client

from bench.bare import BareCommandWorkflow
from bench.profiling import profiled
from bench.report import Report, cpu_seconds, percentile, postgres_backends
from bench.stack import TERMINAL, ApiClient, add_stack_arguments, api_client, bench_stack, settle
from settings import Settings
from tests.conftest import Stack

COMMAND = "true"
SIDES = {"b": "bare", "p": "scheduler (poll)", "w": "scheduler (wait)"}


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
        self._pids["bench (clients)"] = os.getpid()
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
        code = await client.execute_workflow(
            BareCommandWorkflow.run, COMMAND, id=f"bench-bare-{uuid.uuid4().hex}", task_queue=queue
        )
        return code == 0

    return await closed_loop(runs, concurrency, one)


def start_bare_worker(stack: Stack, queue: str) -> None:
    """The bare side's worker, a process of the stack's (stopped with it, CPU counted)."""
    settings = Settings.from_env(stack.env)
    stack.processes["bare worker"] = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bare",
            settings.temporal_address,
            settings.temporal_namespace,
            queue,
            str(settings.worker_max_concurrent_tasks),
        ],
        cwd=str(Path(__file__).resolve().parent.parent),
        stdout=stack.log_file("bare-worker"),
        stderr=subprocess.STDOUT,
    )


def start_more_workers(stack: Stack, orchestrators: int, executors: int) -> None:
    """Orchestrator and shell worker processes beyond the stack's one of each."""
    for index in range(2, orchestrators + 1):
        stack.start(f"orchestrator-{index}", "worker_main.py", "--orchestrator")
    for index in range(2, executors + 1):
        stack.start(f"shell-{index}", "worker_main.py", "--task-type", "shell")


async def wait_phase(api: ApiClient, task_id: int, runs: int, concurrency: int) -> Phase:
    async def one() -> bool:
        data = await api.call("POST", f"/api/tasks/{task_id}/trigger", 201, params={"wait": 300})
        return bool(data["run"]["status"] == "Completed")

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


async def bare_ready(client: Client, queue: str) -> None:
    """Once the bare worker answers a run (its process takes a few seconds to start)."""
    async with asyncio.timeout(120):
        await bare_phase(client, queue, 1, 1)


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    settings = Settings.from_env(stack.env)
    bare_client = await Client.connect(
        settings.temporal_address, namespace=settings.temporal_namespace
    )
    queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
    start_bare_worker(stack, queue)
    start_more_workers(stack, args.orchestrators, args.executors)
    async with api_client(stack.base_url, connections=args.concurrency + 10) as api:
        task = await api.create_task(parameters={"command": COMMAND})
        await bare_ready(bare_client, queue)
        await settle(api, task["id"], runs=args.warmup)
        await bare_phase(bare_client, queue, args.warmup, 1)

        phases = {side: Phase() for side in SIDES}
        cpu = {side: CpuMeter(stack) for side in SIDES}
        poll_requests = 0
        half = args.runs // 2
        with profiled(_profiled_pids(stack), args.profile):
            for size, order in ((half, "bpw"), (args.runs - half, "wpb")):
                for side in (side for side in order if side in args.sides):
                    with cpu[side]:
                        if side == "b":
                            phase = await bare_phase(bare_client, queue, size, args.concurrency)
                        elif side == "p":
                            phase, polls = await scheduler_phase(
                                api, task["id"], size, args.concurrency, args.poll_interval
                            )
                            poll_requests += polls
                        else:
                            phase = await wait_phase(api, task["id"], size, args.concurrency)
                        phases[side].add(phase)
        c1 = {side: Phase() for side in SIDES}
        if "p" in args.sides:
            c1["p"] = await sequential_api_latency(api, task["id"], args.latency_runs)
        if "w" in args.sides:
            c1["w"] = await wait_phase(api, task["id"], args.latency_runs, 1)
        c1["b"] = await bare_phase(bare_client, queue, args.latency_runs, 1)

    c = args.concurrency
    bare = phases["b"]
    report.add(f"bare runs/s (C={c})", bare.rate, "runs/s")
    ran = {side: name for side, name in SIDES.items() if side in args.sides}
    for side in "pw":
        if side in ran:
            report.add(f"{ran[side]} runs/s (C={c})", phases[side].rate, "runs/s")
    for side, target in (("p", 0.7), ("w", 0.8)):
        if side in ran:
            ratio = phases[side].rate / bare.rate if bare.rate else 0.0
            report.add(
                f"ratio {ran[side]} / bare", ratio, "", target=f">= {target}", met=ratio >= target
            )
    for side, name in ran.items():
        latencies = phases[side].latencies
        report.add(f"{name} latency p50 (C={c})", percentile(latencies, 50), "s")
        report.add(f"{name} latency p99 (C={c})", percentile(latencies, 99), "s")
    bare_p50 = percentile(c1["b"].latencies, 50)
    for side, name in ran.items():
        p50, p99 = percentile(c1[side].latencies, 50), percentile(c1[side].latencies, 99)
        if side == "w":
            limit = 1.25 * bare_p50
            report.add(
                f"{name} trigger->done p50 (C=1)",
                p50,
                "s",
                target=f"<= 1.25 x bare ({limit:.3f} s)",
                met=p50 <= limit,
            )
        else:
            report.add(f"{name} trigger->done p50 (C=1)", p50, "s")
        report.add(f"{name} trigger->done p99 (C=1)", p99, "s")
    failures = sum(phase.failures for phase in (*phases.values(), *c1.values()))
    report.add("runs not Completed", failures, "runs", target="0", met=failures == 0)
    report.note(
        f"poll: the task's runs listed every {args.poll_interval}s ({poll_requests} list"
        " requests); C=1 poll: the run read every 10 ms; wait: trigger?wait=300"
    )
    report.note(
        f"{args.orchestrators} orchestrator(s), {args.executors} shell worker(s),"
        f" {settings.worker_max_concurrent_tasks} executor slots each; bare worker as many"
    )
    for side, name in ran.items():
        per_run = cpu[side].per_run_ms(args.runs)
        report.note(
            f"CPU ms per run, {name}: "
            + ", ".join(f"{proc} {ms}" for proc, ms in per_run.items())
            + f" (total {sum(per_run.values()):.1f})"
        )
    report.details = {
        "cpu_ms_per_run": {name: cpu[side].per_run_ms(args.runs) for side, name in ran.items()},
        "elapsed_s": {name: phases[side].elapsed for side, name in ran.items()},
        "c1_latencies_s": {name: c1[side].latencies for side, name in ran.items()},
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
    parser.add_argument(
        "--orchestrators", type=int, default=1, help="orchestrator processes (default 1)"
    )
    parser.add_argument("--executors", type=int, default=1, help="shell workers (default 1)")
    parser.add_argument(
        "--sides",
        default="bpw",
        help="b (bare: always), p (scheduler, polling), w (scheduler, wait); default bpw",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    if set(args.sides) - set(SIDES) or "b" not in args.sides:
        parser.error("--sides takes b, p and w, and always b")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "orchestration",
        {
            "runs": args.runs,
            "concurrency": args.concurrency,
            "latency_runs": args.latency_runs,
            "backend": args.backend,
            "orchestrators": args.orchestrators,
            "executors": args.executors,
        },
    )
    with bench_stack(args) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
