"""Run every benchmark once at a tiny size, so they keep working (``make bench-smoke``).

    .venv/bin/python -m bench.smoke [--results-dir DIR]

The figures of a smoke run mean nothing; only that each benchmark ran to
its end and printed them, so each runs at the smallest size that still goes
through all of its code, and the benchmarks share stacks (``shared_stacks``):
one with workers for those that run tasks, one without (Postgres) for those
that seed the mirror (``api_history`` seeds an empty one first, then
``console_tasks`` replaces its data). ``fire_lag`` fires its schedules with
``ScheduleHandle.trigger()`` instead of waiting up to a minute for a cron
boundary, and ``api_history`` uses the httpx load generator for a fifth of a
second per endpoint.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from bench.stack import shared_stacks

SMOKE: dict[str, list[str]] = {
    "schedule_scale": ["--tasks", "4", "--concurrency", "2"],
    "orchestration": ["--runs", "4", "--concurrency", "2", "--latency-runs", "2", "--warmup", "1"],
    "dependency_handoff": ["--pairs", "1", "--warmup", "1", "--settle", "0.3"],
    "fire_lag": ["--tasks", "2", "--trigger-now"],
    "api_history": [
        "--tasks",
        "10",
        "--small-runs",
        "20",
        "--runs",
        "100",
        "--seconds",
        "0.2",
        "--warmup-seconds",
        "0",
        "--connections",
        "2",
        "--generator",
        "httpx",
    ],
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
"""Benchmark module -> arguments of its tiny run, in the order they run: on the
stack without workers, ``api_history`` needs the empty mirror it starts with."""
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
    with shared_stacks():
        for name in (name for name in SMOKE if name in (args.names or SMOKE)):
            extra = ["--results-dir", args.results_dir] if args.results_dir else []
            began = time.monotonic()
            module = importlib.import_module(f"bench.{name}")
            module.main([*SMOKE[name], *backend_arguments(name), *extra])
            print(f"-- smoke {name}: {time.monotonic() - began:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
