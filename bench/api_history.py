"""API cost as history grows: read endpoints at a small and at a large run history, on Postgres.

    .venv/bin/python -m bench.api_history --tasks 10000 --small-runs 10000 --runs 1000000

Starts the Temporal dev server and the API only (reads need the database; no
worker runs, so nothing fires or reconciles), COPYs ``--tasks`` tasks and the
newest ``--small-runs`` runs into a fresh database, loads every endpoint for
``--seconds`` with ``--connections`` connections, then COPYs older history
under them up to ``--runs`` runs and loads every endpoint again. Runs arrive
at a constant rate over ``--days`` days (so "today" holds as many runs at
both sizes, as on a live system whose history grows), round robin over the
tasks. ``{id}`` is a random task id per request. ``VACUUM ANALYZE`` runs after
each seed, as autovacuum would have.

``GET /api/tasks/{id}/stats`` includes ``runs_skipped``, read from Temporal
(``describe`` of the task's schedule, 2 s timeout): the seeded tasks have no
schedule, so the dev server answers NOT_FOUND, one local RPC per request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

from bench import seed
from bench.load import LoadResult, generate_load
from bench.profiling import profiled
from bench.report import Report
from bench.stack import add_stack_arguments, bench_stack
from tests.conftest import Stack

ENDPOINTS = (
    ("GET /health", "/health", False),
    # Authentication alone: what every authenticated endpoint pays before its own read.
    ("GET /api/auth/validate", "/api/auth/validate", True),
    ("GET /api/tasks", "/api/tasks", True),
    ("GET /api/tasks/{id}", "/api/tasks/{id}", True),
    ("GET /api/tasks/{id}/runs", "/api/tasks/{id}/runs", True),
    ("GET /api/tasks/{id}/stats", "/api/tasks/{id}/stats", True),
    ("GET /api/system/stats", "/api/system/stats", True),
    ("GET /metrics", "/metrics", False),
)
DETAIL = "GET /api/tasks/{id}"
HEALTH = "GET /health"
AUTH_ONLY = "GET /api/auth/validate"
ALWAYS = (HEALTH, AUTH_ONLY, DETAIL)


def login(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/api/auth/login", json={"username": "admin", "password": "admin123"}
    )
    response.raise_for_status()
    token: str = response.json()["data"]["access_token"]
    return token


async def _seed(
    database_url: str, history: seed.History, first: int, last: int, tasks: bool
) -> None:
    conn = await seed.connect(database_url)
    try:
        if tasks:
            await seed.seed_tasks(conn, history)
        await seed.seed_runs(conn, history, first, last)
        await seed.analyze(conn)
    finally:
        await conn.close()


def load_all(
    stack: Stack, token: str, args: argparse.Namespace, label: str
) -> dict[str, LoadResult]:
    results: dict[str, LoadResult] = {}
    use_wrk = None if args.generator == "auto" else args.generator == "wrk"
    for name, path, authenticated in ENDPOINTS:
        if args.only and name not in ALWAYS and not any(o in name for o in args.only):
            continue

        def load(
            seconds: float, path: str = path, authenticated: bool = authenticated
        ) -> LoadResult:
            return generate_load(
                stack.base_url,
                path,
                token=token if authenticated else "",
                ids=args.tasks,
                seconds=seconds,
                connections=args.connections,
                use_wrk=use_wrk,
            )

        load(args.warmup_seconds)
        slug = "".join(c if c.isalnum() else "_" for c in name.removeprefix("GET /")).strip("_")
        with profiled({f"api-{label}-{slug}": stack.processes["api"].pid}, args.profile):
            result = load(args.seconds)
        if result.errors:
            raise RuntimeError(f"{name}: {result.errors} failed requests of {result.requests}")
        results[name] = result
        print(
            f"   {name:<28} {result.rate:8.0f} req/s  p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:8.2f} ms  ({result.generator})",
            flush=True,
        )
    return results


def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    history = seed.History(args.tasks, args.runs, args.days, seed.utc_now())
    token = login(stack.base_url)
    small_first = args.runs - args.small_runs + 1

    began = time.perf_counter()
    asyncio.run(_seed(stack.database_url, history, small_first, args.runs, tasks=True))
    report.details["seed_small_seconds"] = time.perf_counter() - began
    print(f"   seeded {args.tasks} tasks and {args.small_runs} runs; loading", flush=True)
    small = load_all(stack, token, args, _size(args.small_runs))

    began = time.perf_counter()
    if small_first > 1:
        asyncio.run(_seed(stack.database_url, history, 1, small_first - 1, tasks=False))
    report.details["seed_large_seconds"] = time.perf_counter() - began
    print(f"   seeded up to {args.runs} runs; loading", flush=True)
    large = load_all(stack, token, args, _size(args.runs))

    small_label, large_label = _size(args.small_runs), _size(args.runs)
    for name in small:
        before, after = small[name], large[name]
        growth = after.p99_ms / before.p99_ms if before.p99_ms else float("inf")
        report.add(f"{name} req/s @{small_label}", before.rate, "req/s")
        report.add(f"{name} req/s @{large_label}", after.rate, "req/s")
        report.add(f"{name} p50 @{small_label}", before.p50_ms, "ms")
        report.add(f"{name} p50 @{large_label}", after.p50_ms, "ms")
        report.add(f"{name} p99 @{small_label}", before.p99_ms, "ms")
        report.add(f"{name} p99 @{large_label}", after.p99_ms, "ms")
        if name not in (HEALTH, AUTH_ONLY):
            report.add(f"{name} p99 growth", growth, "x", target="<= 1.5", met=growth <= 1.5)
    for label, results in ((small_label, small), (large_label, large)):
        share = results[DETAIL].rate / results[HEALTH].rate
        report.add(
            f"task detail / health req/s @{label}", share, "", target=">= 0.3", met=share >= 0.3
        )
        floor = results[AUTH_ONLY].rate / results[HEALTH].rate
        report.add(f"authentication alone / health req/s @{label}", floor, "")
    report.note("stats include runs_skipped: a describe of the (absent) schedule on the dev server")
    report.note(f"load generator: {small[HEALTH].generator}, {args.connections} connections")
    report.details["results"] = {
        size: {name: vars(result) for name, result in results.items()}
        for size, results in (("small", small), ("large", large))
    }


def _size(runs: int) -> str:
    if runs >= 1_000_000 and runs % 1_000_000 == 0:
        return f"{runs // 1_000_000}M"
    return f"{runs // 1000}k" if runs >= 1000 and runs % 1000 == 0 else str(runs)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks (default 10000)")
    parser.add_argument("--small-runs", type=int, default=10_000, help="first size (10000)")
    parser.add_argument("--runs", type=int, default=1_000_000, help="second size (1000000)")
    parser.add_argument("--days", type=float, default=90.0, help="history span at --runs (90)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint (default 10)")
    parser.add_argument("--warmup-seconds", type=float, default=2.0, help="untimed (default 2)")
    parser.add_argument("--connections", type=int, default=8, help="(default 8)")
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--profile", type=Path, help="py-spy the API under each load into DIR")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="load only endpoints containing this (repeatable; health, validate and task detail"
        " always)",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    if args.backend != "postgres":
        parser.error("api_history seeds with Postgres COPY: --backend postgres")
    if not 0 < args.small_runs <= args.runs:
        parser.error("need 0 < --small-runs <= --runs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "api_history",
        {
            "tasks": args.tasks,
            "small_runs": args.small_runs,
            "runs": args.runs,
            "seconds": args.seconds,
            "connections": args.connections,
        },
    )
    with bench_stack(args, workers=False) as stack:
        measure(stack, args, report)
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
