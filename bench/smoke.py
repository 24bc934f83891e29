"""Run every benchmark once at a tiny size, so they keep working (``make bench-smoke``).

    .venv/bin/python -m bench.smoke [--results-dir DIR]

The figures of a smoke run mean nothing; only that each benchmark ran to
its end and printed them. ``fire_lag`` fires its schedules with
``ScheduleHandle.trigger()`` instead of waiting up to a minute for a cron
boundary, and ``api_history`` uses the httpx load generator for half a
second per endpoint.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

# Benchmark module -> arguments of its tiny run.
SMOKE: dict[str, list[str]] = {
    "orchestration": ["--runs", "10", "--concurrency", "5", "--latency-runs", "3", "--warmup", "1"],
    "dependency_handoff": ["--pairs", "2", "--warmup", "1", "--settle", "0.3"],
    "fire_lag": ["--tasks", "2", "--trigger-now"],
    "api_history": [
        "--tasks",
        "50",
        "--small-runs",
        "100",
        "--runs",
        "2000",
        "--seconds",
        "0.5",
        "--warmup-seconds",
        "0",
        "--connections",
        "2",
        "--generator",
        "httpx",
    ],
    "schedule_scale": ["--tasks", "20", "--concurrency", "4"],
    "console_tasks": [
        "--small-tasks",
        "2",
        "--tasks",
        "30",
        "--runs-per-task",
        "2",
        "--requests",
        "2",
    ],
}
POSTGRES_ONLY = frozenset({"api_history", "console_tasks"})
"""Benchmarks that seed with Postgres COPY."""


def backend_arguments(name: str) -> list[str]:
    """Postgres where the suite has one (and always for ``POSTGRES_ONLY``), else SQLite."""
    if name in POSTGRES_ONLY or os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip():
        return ["--backend", "postgres"]
    return ["--backend", "sqlite"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", help="where the smoke's JSON goes (default bench/results)")
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(SMOKE)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(SMOKE)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    for name in args.names or SMOKE:
        extra = ["--results-dir", args.results_dir] if args.results_dir else []
        began = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        module.main([*SMOKE[name], *backend_arguments(name), *extra])
        print(f"-- smoke {name}: {time.monotonic() - began:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
