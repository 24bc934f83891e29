"""Dependency hand-off: from a dependency's completion to its dependent's start.

    .venv/bin/python -m bench.dependency_handoff --pairs 50

Each pair is two shell tasks (``true``), B depending on A. B is triggered
first and waits ``Pending`` (A has never completed); after ``--settle``
seconds A is triggered. The figure is B's ``started_at`` minus A's
``completed_at`` as the API reports them. The dependency re-check is at its
deployed 30 s, so the hand-off measured is the completion signal's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bench.report import Report, percentile
from bench.stack import ApiClient, add_stack_arguments, api_client, bench_stack, settle
from tests.conftest import Stack


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def one_pair(api: ApiClient, settle_seconds: float) -> tuple[float, float]:
    """(B started - A completed, B completed - A completed) in seconds."""
    upstream = await api.create_task()
    downstream = await api.create_task(dependencies=[upstream["id"]])
    waiting = await api.trigger(downstream["id"])
    await asyncio.sleep(settle_seconds)
    if (await api.run(waiting))["status"] != "Pending":
        raise RuntimeError("the dependent run did not wait for its dependency")
    first = await api.wait_for_run(await api.trigger(upstream["id"]))
    second = await api.wait_for_run(waiting)
    if first["status"] != "Completed" or second["status"] != "Completed":
        raise RuntimeError(f"runs ended {first['status']} and {second['status']}")
    handoff = (_at(second["started_at"]) - _at(first["completed_at"])).total_seconds()
    end_to_end = (_at(second["completed_at"]) - _at(first["completed_at"])).total_seconds()
    return handoff, end_to_end


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    async with api_client(stack.base_url) as api:
        warm = await api.create_task()
        await settle(api, warm["id"], runs=args.warmup)
        gate = asyncio.Semaphore(args.concurrency)

        async def guarded() -> tuple[float, float]:
            async with gate:
                return await one_pair(api, args.settle)

        pairs = await asyncio.gather(*(guarded() for _ in range(args.pairs)))
    handoffs = [handoff for handoff, _ in pairs]
    completions = [end for _, end in pairs]
    p99 = percentile(handoffs, 99)
    report.add("hand-off p50 (A completed -> B started)", percentile(handoffs, 50), "s")
    report.add("hand-off p99 (A completed -> B started)", p99, "s", target="<= 1 s", met=p99 <= 1.0)
    report.add("hand-off max", max(handoffs), "s")
    report.add("A completed -> B completed p50", percentile(completions, 50), "s")
    report.add("A completed -> B completed p99", percentile(completions, 99), "s")
    report.note(f"B waited {args.settle}s before A was triggered; re-check every 30 s (deployed)")
    report.details = {"handoffs_s": handoffs, "a_completed_to_b_completed_s": completions}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=50, help="task pairs (default 50)")
    parser.add_argument("--concurrency", type=int, default=1, help="pairs at once (default 1)")
    parser.add_argument("--settle", type=float, default=0.5, help="B waits before A (0.5 s)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    add_stack_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "dependency_handoff",
        {"pairs": args.pairs, "concurrency": args.concurrency, "backend": args.backend},
    )
    with bench_stack(args) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
