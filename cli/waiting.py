"""Following a run until it ends: the one place that decides how to wait for news."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cli.client import ApiClient
from cli.errors import ApiFailure

FINAL_STATUSES = frozenset({"Completed", "Failed", "Timeout"})
FIRST_INTERVAL_SECONDS = 0.25
MAX_INTERVAL_SECONDS = 2.0
"""A run polled every 2 s costs 30 requests a minute, well inside the runs' rate limit."""


def follow(
    client: ApiClient,
    run_id: int,
    on_change: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """The run once it has ended; ``on_change`` sees every new state on the way."""
    run: dict[str, Any] = client.get(f"/api/task-runs/{run_id}")
    on_change(run)
    interval = FIRST_INTERVAL_SECONDS
    while run["status"] not in FINAL_STATUSES:
        newer = next_state(client, run_id, interval, sleep)
        if _key(newer) != _key(run):
            on_change(newer)
        run = newer
        interval = min(MAX_INTERVAL_SECONDS, interval * 1.5)
    return run


def next_state(
    client: ApiClient, run_id: int, interval: float, sleep: Callable[[float], None]
) -> dict[str, Any]:
    """The run a little later: a plain poll after ``interval`` seconds.

    This is the one function to change for a long poll (``?wait=`` on the run),
    which would answer as soon as the run moves instead of after a sleep.
    """
    sleep(interval)
    try:
        run: dict[str, Any] = client.get(f"/api/task-runs/{run_id}")
    except ApiFailure as exc:
        if exc.code != "RATE_LIMIT_EXCEEDED":
            raise
        sleep(MAX_INTERVAL_SECONDS * 5)
        run = client.get(f"/api/task-runs/{run_id}")
    return run


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return run["status"], run.get("worker_id"), run.get("retry_count")
