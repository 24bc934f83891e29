"""Schedule scale: create N tasks through the API; tasks/s and the processes' peak RSS.

    .venv/bin/python -m bench.schedule_scale --tasks 10000

Each task is a shell task on a daily cron at a random minute and hour, so few
of them fire while the benchmark runs (``--cron`` overrides that), created by
``--concurrency`` clients at once. Peak RSS is ``VmHWM`` of the API, the
orchestrator and the Temporal dev server, read before and after the creates.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time

from bench.report import Report, peak_rss_mib, percentile
from bench.stack import add_stack_arguments, api_client, bench_stack
from tests.conftest import Stack

WATCHED = ("api", "orchestrator", "temporal")


def _rss(stack: Stack) -> dict[str, float | None]:
    return {name: peak_rss_mib(stack.processes[name].pid) for name in WATCHED}


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    rng = random.Random(args.seed)
    before = _rss(stack)
    latencies: list[float] = []
    async with api_client(stack.base_url, connections=args.concurrency) as api:
        remaining = args.tasks

        async def client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                cron = args.cron or f"{rng.randrange(60)} {rng.randrange(24)} * * *"
                began = time.perf_counter()
                await api.create_task(schedule=cron)
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(min(args.concurrency, args.tasks))))
        elapsed = time.perf_counter() - began
        total = (await api.call("GET", "/api/tasks", params={"page_size": 1}))["total"]
    after = _rss(stack)
    report.add("tasks created", len(latencies), "tasks")
    report.add("tasks in the API afterwards", total, "tasks")
    report.add("create rate", len(latencies) / elapsed, "tasks/s")
    report.add("create latency p50", percentile(latencies, 50), "s")
    report.add("create latency p99", percentile(latencies, 99), "s")
    for name in WATCHED:
        report.add(f"{name} peak RSS (VmHWM) before", before[name], "MiB")
        report.add(f"{name} peak RSS (VmHWM) after", after[name], "MiB")
    report.details = {"elapsed_s": elapsed, "rss_before_mib": before, "rss_after_mib": after}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks (default 10000)")
    parser.add_argument("--concurrency", type=int, default=10, help="clients (default 10)")
    parser.add_argument("--cron", default="", help="one cron for every task (default random daily)")
    parser.add_argument("--seed", type=int, default=8, help="random seed of the crons")
    add_stack_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "schedule_scale",
        {"tasks": args.tasks, "concurrency": args.concurrency, "backend": args.backend},
    )
    with bench_stack(args) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
