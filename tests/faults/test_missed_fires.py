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
LATE_AFTER_SECONDS = 5


@pytest.fixture(scope="module", params=FAULT_BACKENDS)
def short_catchup_stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    overrides = {
        "SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS": str(CATCHUP_SECONDS),
        "SCHEDULER_FIRE_WATCH_INTERVAL_SECONDS": "1",
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


def test_a_fire_while_temporal_is_down_past_the_catch_up_window_is_missed(
    short_catchup_stack: Stack,
) -> None:
    stack = short_catchup_stack
    admin = stack.api("admin")
    with running_receiver() as receiver:
        channel_id = _webhook_channel(stack, receiver)
        task = _watched_task(admin, channel_id, Event.MISSED)
        created = [task["id"]]
        missed_before = _counter(stack, "scheduler_task_fires_missed_total")
        late_before = _counter(stack, "scheduler_task_fires_late_total")
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
            # While the ledger settles the missed fire (its time plus the catch-up
            # window and a minute), a late one: the next fire of a task created
            # now, with no shell worker to start it.
            late_task = _watched_task(
                admin, channel_id, Event.LATE, late_after_seconds=LATE_AFTER_SECONDS
            )
            created.append(late_task["id"])
            devstack.stop(stack.processes["shell"])
            late_fire = boundary + timedelta(minutes=1)
            late_id = fire_event_id(Event.LATE, late_task["id"], late_fire)
            late_events = eventually(lambda: _events(receiver, late_id), timeout=120, interval=1)
            stack.start("shell", "worker_main.py", "--task-type", "shell")
            assert late_events[0]["event"] == "late"
            assert late_events[0]["task"]["id"] == late_task["id"]
            assert late_events[0]["run"] is None

            ledger = eventually(outcome_at_boundary, timeout=150, interval=2)
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
                interval=2,
            )
            assert _counter(stack, "scheduler_task_fires_late_total") >= late_before + 1
            # Further passes of the watch (every second) report neither again.
            time.sleep(3)
            assert len(_events(receiver, late_id)) == 1
            assert len(_events(receiver, missed_id)) == 1
        finally:
            if "shell" not in stack.processes or stack.processes["shell"].poll() is not None:
                stack.start("shell", "worker_main.py", "--task-type", "shell")
            for task_id in created:
                admin.patch(f"/api/tasks/{task_id}", json={"status": "Inactive"})
            admin.close()
