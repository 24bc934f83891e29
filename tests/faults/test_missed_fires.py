"""The fire ledger shows ``missed`` for a fire Temporal could not make while it was down."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import devstack
from tests.conftest import Stack, running_stack
from tests.faults.conftest import FAULT_BACKENDS
from tests.helpers import eventually

# Temporal's minimum: a fire more than 10 s overdue when the server is back is dropped.
CATCHUP_SECONDS = 10


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def short_catchup_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    overrides = {"SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS": str(CATCHUP_SECONDS)}
    with running_stack(request.param, env_overrides=overrides) as running:
        yield running


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _missed_total(stack: Stack) -> float:
    text = httpx.get(f"{stack.base_url}/metrics", timeout=10).text
    found = re.search(r"^scheduler_task_fires_missed_total (\S+)$", text, re.MULTILINE)
    assert found is not None, text
    return float(found.group(1))


def test_a_fire_while_temporal_is_down_past_the_catch_up_window_is_missed(
    short_catchup_stack: Stack,
) -> None:
    stack = short_catchup_stack
    admin = stack.api("admin")
    task = admin.create_task(schedule="* * * * *", parameters={"command": "true"})
    missed_before = _missed_total(stack)
    # Stop the server a few seconds before a minute boundary, bring it back
    # well past the catch-up window after it.
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (boundary - now).total_seconds() < 8:
        boundary += timedelta(minutes=1)
    time.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds() - 5))
    devstack.stop(stack.processes["temporal"])
    time.sleep(max(0.0, (boundary - datetime.now(UTC)).total_seconds() + CATCHUP_SECONDS + 15))
    stack.start_temporal()

    def outcome_at_boundary() -> dict[str, Any] | None:
        response = admin.get(
            f"/api/tasks/{task['id']}/fires",
            params={"from": (boundary - timedelta(minutes=1)).isoformat()},
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        at_boundary = [f for f in data["fires"] if _at(f["at"]) == boundary]
        return data if at_boundary and at_boundary[0]["outcome"] == "missed" else None

    try:
        ledger = eventually(outcome_at_boundary, timeout=150, interval=2)
        assert ledger["summary"]["missed"] >= 1
        stats = admin.get(f"/api/tasks/{task['id']}/stats").json()["data"]
        assert stats["runs_missed_7d"] >= 1
        eventually(lambda: _missed_total(stack) >= missed_before + 1, timeout=60, interval=2)
    finally:
        admin.patch(f"/api/tasks/{task['id']}", json={"status": "Inactive"})
        admin.close()
