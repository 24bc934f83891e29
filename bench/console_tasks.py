"""The console's tasks page at a few tasks and at many: does it stay as fast?

    .venv/bin/python -m bench.console_tasks --small-tasks 10 --tasks 10000

Starts the Temporal dev server and the API only, COPYs ``--small-tasks``
tasks (each with ``--runs-per-task`` runs, the newest still open) into a
fresh Postgres database, signs in through the console's form as a browser
would, and requests each view of ``/ui/tasks`` ``--requests`` times one after
another (C=1: the time one operator waits); then replaces the data with
``--tasks`` tasks and their runs and measures the same views again. Prints
p50/p99 per view at both sizes and the ratio of the p50s: the page pages on
the server, so the ratio should stay near 1, not grow with the task count.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable

import httpx

from bench import seed
from bench.report import Report, percentile
from bench.stack import add_stack_arguments, bench_stack
from tests.conftest import Stack

VIEWS: tuple[tuple[str, Callable[[int], str]], ...] = (
    ("first page", lambda _tasks: "/ui/tasks"),
    ("100 per page", lambda _tasks: "/ui/tasks?page_size=100"),
    ("last page", lambda tasks: f"/ui/tasks?page={max(1, -(-tasks // 20))}"),
    ("name filter", lambda _tasks: "/ui/tasks?name=seeded-1"),
    ("status filter", lambda _tasks: "/ui/tasks?status=Inactive&task_type=shell"),
)
RATIO_TARGET = 3.0


async def _replace_data(database_url: str, tasks: int, runs_per_task: int) -> float:
    """Empty the mirror and COPY ``tasks`` tasks with their runs; the seconds it took."""
    began = time.perf_counter()
    history = seed.History(tasks, tasks * runs_per_task, days=7.0, now=seed.utc_now())
    conn = await seed.connect(database_url)
    try:
        await conn.execute("TRUNCATE task_runs, tasks RESTART IDENTITY CASCADE")
        await seed.seed_tasks(conn, history)
        await seed.seed_runs(conn, history, 1, history.total_runs)
        await seed.analyze(conn)
    finally:
        await conn.close()
    return time.perf_counter() - began


def signed_in(base_url: str) -> httpx.Client:
    """A client holding an admin's console session cookie, signed in by the form."""
    client = httpx.Client(base_url=base_url, timeout=60.0)
    answer = client.post(
        "/ui/login",
        data={"username": "admin", "password": "admin123", "next": "/ui/tasks"},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"console sign-in answered {answer.status_code}: {answer.text[:300]}")
    return client


def measure_views(
    client: httpx.Client, tasks: int, requests: int
) -> dict[str, tuple[float, float, int]]:
    """p50 and p99 in ms and the answer's size in bytes, per view."""
    figures = {}
    for name, path_of in VIEWS:
        path = path_of(tasks)
        client.get(path).raise_for_status()  # warm: templates compiled, plans cached
        timings = []
        size = 0
        for _ in range(requests):
            began = time.perf_counter()
            answer = client.get(path)
            timings.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
            size = len(answer.content)
        figures[name] = (percentile(timings, 50), percentile(timings, 99), size)
        print(
            f"   {tasks:>6} tasks  {name:<14} p50 {figures[name][0]:7.1f} ms"
            f"  p99 {figures[name][1]:7.1f} ms  {size / 1024:6.1f} KiB",
            flush=True,
        )
    return figures


def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    sizes = (args.small_tasks, args.tasks)
    results: dict[int, dict[str, tuple[float, float, int]]] = {}
    client = signed_in(stack.base_url)
    try:
        for tasks in sizes:
            seconds = asyncio.run(_replace_data(stack.database_url, tasks, args.runs_per_task))
            report.details[f"seed_{tasks}_seconds"] = seconds
            print(f"   seeded {tasks} tasks x {args.runs_per_task} runs in {seconds:.1f} s")
            results[tasks] = measure_views(client, tasks, args.requests)
    finally:
        client.close()
    small, large = (results[size] for size in sizes)
    for name, _ in VIEWS:
        report.add(f"{name} p50 @{args.small_tasks}", small[name][0], "ms")
        report.add(f"{name} p50 @{args.tasks}", large[name][0], "ms")
        report.add(f"{name} p99 @{args.tasks}", large[name][1], "ms")
        ratio = large[name][0] / small[name][0] if small[name][0] else float("inf")
        report.add(
            f"{name} p50 ratio",
            ratio,
            "x",
            target=f"<= {RATIO_TARGET:g}",
            met=ratio <= RATIO_TARGET,
        )
    report.note("C=1, one signed-in admin session; 20 tasks per page unless the view says 100")
    report.details["results"] = {
        str(size): {name: list(values) for name, values in views.items()}
        for size, views in results.items()
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-tasks", type=int, default=10, help="first size (default 10)")
    parser.add_argument("--tasks", type=int, default=10_000, help="second size (default 10000)")
    parser.add_argument(
        "--runs-per-task", type=int, default=20, help="runs of each task (default 20)"
    )
    parser.add_argument("--requests", type=int, default=50, help="per view (default 50)")
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    if args.backend != "postgres":
        parser.error("console_tasks seeds with Postgres COPY: --backend postgres")
    if not 0 < args.small_tasks <= args.tasks:
        parser.error("need 0 < --small-tasks <= --tasks")
    if args.runs_per_task < 1 or args.requests < 1:
        parser.error("--runs-per-task and --requests must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "console_tasks",
        {
            "small_tasks": args.small_tasks,
            "tasks": args.tasks,
            "runs_per_task": args.runs_per_task,
            "requests": args.requests,
        },
    )
    with bench_stack(args, workers=False) as stack:
        measure(stack, args, report)
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
