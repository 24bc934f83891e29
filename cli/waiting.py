"""Following a run until it ends: the one place that decides how to wait for news."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cli.client import ApiClient
from cli.errors import ApiFailure

FINAL_STATUSES = frozenset({"Completed", "Failed", "Timeout"})
WAIT_SECONDS = 2
"""Each request holds until the run ends or this passes (``?wait=``): the end shows at once,
the states on the way (Pending, Running, a retry) within 2 s, at 30 requests a minute at most."""
FIRST_INTERVAL_SECONDS = 0.25
MAX_INTERVAL_SECONDS = 2.0
"""Polling, for a server that does not hold the answer."""


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
    """The run a little later: the long poll ``GET /api/task-runs/{id}?wait=``.

    It answers as soon as the run ends, else after ``WAIT_SECONDS`` with
    ``X-Run-Wait: timeout``. An open run without that header comes from a
    server that does not hold answers: then this sleeps ``interval`` (a poll).
    """
    try:
        answer = client.request("GET", f"/api/task-runs/{run_id}", params={"wait": WAIT_SECONDS})
    except ApiFailure as exc:
        if exc.code != "RATE_LIMIT_EXCEEDED":
            raise
        sleep(MAX_INTERVAL_SECONDS * 5)
        answer = client.request("GET", f"/api/task-runs/{run_id}")
    run: dict[str, Any] = answer.data
    if run["status"] not in FINAL_STATUSES and answer.headers.get("X-Run-Wait") != "timeout":
        sleep(interval)
    return run


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    return run["status"], run.get("worker_id"), run.get("retry_count")
