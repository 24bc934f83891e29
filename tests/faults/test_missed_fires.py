"""The fire ledger shows ``missed`` for a fire Temporal could not make while it was down,
and the fire watch sends ``missed`` and ``late`` events for such fires, once each."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import devstack
from domain.notification_channels import parse_config
from domain.notifications import Event, fire_event_id
from persistence import notification_store
from persistence.models import NotificationChannel
from persistence.secret_sealing import SecretSealer
from settings import Settings
from tests.conftest import Stack, running_stack
from tests.credential_rows import with_sessions
from tests.faults.conftest import FAULT_BACKENDS
from tests.helpers import Api, eventually
from tests.notification_receiver import Receiver, running_receiver

# Temporal's minimum: a fire more than 10 s overdue when the server is back is dropped.
CATCHUP_SECONDS = 10
# The ledger's grace, short: the missed fire settles soon after Temporal is back.
GRACE_SECONDS = 5
LATE_AFTER_SECONDS = 5
# Temporal is stopped this long before the fire (SIGTERM takes a moment), and
# started this long past the catch-up window after it (so the fire is overdue
# by more than the window whenever the server gets to it).
STOP_BEFORE_SECONDS = 8
RESTART_MARGIN_SECONDS = 5


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def short_catchup_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    overrides = {
        "SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS": str(CATCHUP_SECONDS),
        "SCHEDULER_FIRE_WATCH_INTERVAL_SECONDS": "1",
        "SCHEDULER_FIRE_LEDGER_GRACE_SECONDS": str(GRACE_SECONDS),
    }
    with running_stack(request.param, env_overrides=overrides) as running:
        yield running


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _counter(stack: Stack, name: str) -> float:
    text = httpx.get(f"{stack.base_url}/metrics", timeout=10).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found is not None, text
    return float(found.group(1))


def _events(receiver: Receiver, event_id: str) -> list[dict[str, Any]]:
    bodies = [received.json for received in receiver.snapshot()]
    return [body for body in bodies if body["event_id"] == event_id]


def _webhook_channel(stack: Stack, receiver: Receiver) -> int:
    """A webhook channel on ``receiver``, sealed with the stack's payload key; its id."""
    sealer = SecretSealer(Settings.from_env(stack.env).payload_keys)

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session, session.begin():
            channel = NotificationChannel(name=f"watch-{uuid.uuid4().hex[:6]}", type="webhook")
            config = parse_config("webhook", {"url": receiver.url()}, block_private=False)
            notification_store.write_config(channel, sealer, config)
            session.add(channel)
            await session.flush()
            return channel.id

    return with_sessions(stack, work)


def _watched_task(admin: Api, channel_id: int, event: Event, **fields: Any) -> dict[str, Any]:
    return admin.create_task(
        schedule="* * * * *",
        parameters={"command": "true"},
        notifications=[{"channel_id": channel_id, "on": [event.value]}],
        **fields,
    )


def _sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def test_a_fire_while_temporal_is_down_past_the_catch_up_window_is_missed(
    short_catchup_stack: Stack,
) -> None:
    stack = short_catchup_stack
    admin = stack.api("admin")
    created: list[int] = []
    with running_receiver() as receiver:
        channel_id = _webhook_channel(stack, receiver)
        missed_before = _counter(stack, "scheduler_task_fires_missed_total")
        late_before = _counter(stack, "scheduler_task_fires_late_total")
        # The next minute boundary with room to create both tasks and stop the
        # server before it: Temporal is down at that fire and comes back well
        # past the catch-up window after it.
        now = datetime.now(UTC)
        boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if (boundary - now).total_seconds() < STOP_BEFORE_SECONDS + 2:
            boundary += timedelta(minutes=1)
        task = _watched_task(admin, channel_id, Event.MISSED)
        created.append(task["id"])
        # The same fire is late for a task that asks to hear of it: no run has
        # started 5 s past its time (the watch records it while Temporal is
        # down and sends it once the server is back).
        late_task = _watched_task(
            admin, channel_id, Event.LATE, late_after_seconds=LATE_AFTER_SECONDS
        )
        created.append(late_task["id"])
        _sleep_until(boundary - timedelta(seconds=STOP_BEFORE_SECONDS))
        assert datetime.now(UTC) < boundary, "the tasks took past the fire to create"
        devstack.stop(stack.processes["temporal"])
        assert datetime.now(UTC) < boundary, "Temporal took past the fire to stop"
        _sleep_until(boundary + timedelta(seconds=CATCHUP_SECONDS + RESTART_MARGIN_SECONDS))
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
            late_id = fire_event_id(Event.LATE, late_task["id"], boundary)
            late_events = eventually(lambda: _events(receiver, late_id), timeout=60, interval=1)
            assert late_events[0]["event"] == "late"
            assert late_events[0]["task"]["id"] == late_task["id"]
            assert late_events[0]["run"] is None

            ledger = eventually(outcome_at_boundary, timeout=60, interval=1)
            assert ledger["summary"]["missed"] >= 1
            stats = admin.get(f"/api/tasks/{task['id']}/stats").json()["data"]
            assert stats["runs_missed_7d"] >= 1
            missed_id = fire_event_id(Event.MISSED, task["id"], boundary)
            missed_events = eventually(lambda: _events(receiver, missed_id), timeout=30)
            assert missed_events[0]["event"] == "missed"
            assert missed_events[0]["task"]["id"] == task["id"]
            eventually(
                lambda: _counter(stack, "scheduler_task_fires_missed_total") >= missed_before + 1,
                timeout=60,
                interval=1,
            )
            assert _counter(stack, "scheduler_task_fires_late_total") >= late_before + 1
            # Further passes of the watch (every second) report neither again.
            time.sleep(3)
            assert len(_events(receiver, late_id)) == 1
            assert len(_events(receiver, missed_id)) == 1
        finally:
            for task_id in created:
                admin.patch(f"/api/tasks/{task_id}", json={"status": "Inactive"})
            admin.close()
