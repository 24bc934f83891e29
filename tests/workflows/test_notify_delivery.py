"""``NotifyWorkflow`` with the real notification activities, on a migrated SQLite
database, delivering to a real receiver on loopback."""

from __future__ import annotations

import asyncio
import email
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

import devstack
from activities.notification_senders import Senders, SmtpServer
from activities.notifier import Notifier
from domain.notification_channels import parse_config
from domain.notifications import Event, fire_event_id
from persistence import notification_store
from persistence.database import create_engine, create_sessionmaker
from persistence.migrate import migrate
from persistence.models import NotificationChannel, NotificationDelivery, Task
from persistence.secret_sealing import SecretSealer
from settings import Settings
from tests.notification_receiver import Receiver, running_receiver, verify_signature
from workflows.notify import NotifyWorkflow, emit_event, notify_workflow_id
from workflows.notify_payloads import NotifyOutcome, TaskEvent
from workflows.schedules import schedule_manager

SECRET = "receiver-secret-1"


@dataclass
class Delivering:
    client: Client
    queue: str
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings


@asynccontextmanager
async def delivering(
    temporal: tuple[str, str],
    tmp_path: Path,
    smtp: SmtpServer | None = None,
    **env: str,
) -> AsyncIterator[Delivering]:
    address, namespace = temporal
    url = f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}"
    settings = Settings.from_env(
        {
            "SCHEDULER_DATA_DIR": str(tmp_path),
            "DATABASE_URL": url,
            "SCHEDULER_NOTIFY_RETRY_INITIAL_INTERVAL_SECONDS": "0.1",
            "SCHEDULER_NOTIFY_RETRY_MAXIMUM_INTERVAL_SECONDS": "0.2",
            **env,
        }
    )
    engine = create_engine(url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    client = await Client.connect(address, namespace=namespace)
    queue = f"notify-test-{uuid.uuid4().hex[:8]}"
    notifier = Notifier(
        sessions,
        settings,
        schedule_manager(client, settings),
        SecretSealer(settings.payload_keys),
        Senders(block_private=False, smtp=smtp),
    )
    try:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[NotifyWorkflow],
            activities=[
                notifier.evaluate_run_end,
                notifier.prepare_deliveries,
                notifier.deliver_notification,
                notifier.give_up_delivery,
            ],
        ):
            yield Delivering(client, queue, sessions, settings)
    finally:
        await notifier.close()
        await engine.dispose()


async def add_task_and_channel(
    served: Delivering, receiver: Receiver | None, on: list[str], to: str = ""
) -> int:
    """A task subscribed to a signed webhook channel on ``receiver`` (or, without one, an
    e-mail channel to ``to``); the task's id."""
    sealer = SecretSealer(served.settings.payload_keys)
    async with served.sessions() as session, session.begin():
        kind = "webhook" if receiver is not None else "email"
        channel = NotificationChannel(name=f"{kind}-{uuid.uuid4().hex[:6]}", type=kind)
        config = parse_config(
            kind,
            {"url": receiver.url(), "secret": SECRET} if receiver is not None else {"to": [to]},
            block_private=False,
        )
        notification_store.write_config(channel, sealer, config)
        session.add(channel)
        await session.flush()
        now = datetime.now(UTC)
        task = Task(
            name=f"watched-{uuid.uuid4().hex[:6]}",
            task_type="shell",
            schedule="*/5 * * * *",
            parameters={"command": "true"},
            timeout_seconds=60,
            max_retries=0,
            status="Active",
            created_at=now,
            updated_at=now,
            notifications=[{"channel_id": channel.id, "on": on}],
        )
        session.add(task)
        await session.flush()
        return task.id


def test_a_late_fire_is_delivered_once_signed_after_two_refusals(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    asyncio.run(asyncio.wait_for(_late_fire(temporal, tmp_path), 60))


async def _late_fire(temporal: tuple[str, str], tmp_path: Path) -> None:
    fire_at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    with running_receiver() as receiver:
        receiver.answers = [500, 500]
        async with delivering(temporal, tmp_path) as served:
            task_id = await add_task_and_channel(served, receiver, ["late", "missed"])
            event = TaskEvent(
                event=Event.LATE.value,
                event_id=fire_event_id(Event.LATE, task_id, fire_at),
                task_id=task_id,
                occurred_at=fire_at,
                scheduled_at=fire_at,
            )
            assert await emit_event(served.client, served.queue, event)
            assert not await emit_event(served.client, served.queue, event)  # a duplicate
            outcome = await served.client.get_workflow_handle_for(
                NotifyWorkflow.run, notify_workflow_id(event.event_id)
            ).result()
            async with served.sessions() as session:
                rows = list(await session.scalars(select(NotificationDelivery)))

    assert isinstance(outcome, NotifyOutcome)
    assert [(d.delivered, d.attempts, d.status) for d in outcome.deliveries] == [(True, 3, 200)]
    requests = receiver.snapshot()
    assert len(requests) == 3
    assert {r.body for r in requests} == {requests[0].body}  # the same event each time
    for request in requests:
        assert verify_signature(request.headers["X-Scheduler-Signature"], request.body, SECRET)
        assert request.headers["X-Scheduler-Event-Id"] == event.event_id
    assert requests[0].json == {
        "event": "late",
        "event_id": f"task-{task_id}-late-20261201T140000Z",
        "occurred_at": "2026-12-01T14:00:00Z",
        "task": {
            "id": task_id,
            "name": requests[0].json["task"]["name"],
            "task_type": "shell",
            "schedule": "*/5 * * * *",
        },
        "run": None,
        "links": {"run": None, "temporal_ui": None},
    }
    [row] = rows
    assert (row.attempts, row.last_status, row.event) == (3, 200, "late")
    assert row.delivered_at is not None and row.gave_up_at is None


def test_an_event_nobody_subscribed_to_delivers_nothing(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    asyncio.run(asyncio.wait_for(_unsubscribed(temporal, tmp_path), 60))


async def _unsubscribed(temporal: tuple[str, str], tmp_path: Path) -> None:
    with running_receiver() as receiver:
        async with delivering(temporal, tmp_path) as served:
            task_id = await add_task_and_channel(served, receiver, ["failure"])
            outcome = await deliver(served, missed(task_id))
    assert outcome.deliveries == []
    assert receiver.snapshot() == []


def missed(task_id: int) -> TaskEvent:
    # Every test's database numbers its tasks from 1 and the namespace is shared:
    # a fire time of its own keeps each test's event ids apart.
    fire_at = datetime.fromtimestamp(random.randrange(10**9, 2 * 10**9), UTC)
    return TaskEvent(
        event=Event.MISSED.value,
        event_id=fire_event_id(Event.MISSED, task_id, fire_at),
        task_id=task_id,
        occurred_at=datetime.now(UTC),
        scheduled_at=fire_at,
    )


async def deliver(served: Delivering, event: TaskEvent) -> NotifyOutcome:
    assert await emit_event(served.client, served.queue, event)
    return await served.client.get_workflow_handle_for(
        NotifyWorkflow.run, notify_workflow_id(event.event_id)
    ).result()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((list(envelope.rcpt_tos), content))
        return "250 OK"


def test_an_email_goes_through_the_smtp_server(temporal: tuple[str, str], tmp_path: Path) -> None:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=devstack.free_port())
    controller.start()
    try:
        smtp = SmtpServer(
            host="127.0.0.1",
            port=controller.port,
            username="",
            password="",
            sender="scheduler@example.com",
            starttls=False,
        )

        async def main() -> NotifyOutcome:
            async with delivering(temporal, tmp_path, smtp) as served:
                task_id = await add_task_and_channel(served, None, ["missed"], "ops@example.com")
                return await deliver(served, missed(task_id))

        outcome = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        controller.stop()
    assert [(d.delivered, d.status) for d in outcome.deliveries] == [(True, 250)]
    [(recipients, content)] = mailbox.messages
    message = email.message_from_bytes(content)
    assert recipients == ["ops@example.com"] and message["From"] == "scheduler@example.com"
    assert message["X-Scheduler-Event-Id"] == outcome.event_id
    assert "a scheduled run is missed" in message["Subject"]
    assert outcome.event_id in message.get_payload()


def test_a_delivery_gives_up_when_its_retry_time_runs_out(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    async def main() -> tuple[NotifyOutcome, list[NotificationDelivery]]:
        with running_receiver() as receiver:
            receiver.otherwise = 503
            # 0.001 h: 3.6 s of retries.
            async with delivering(
                temporal, tmp_path, SCHEDULER_NOTIFY_RETRY_HOURS="0.001"
            ) as served:
                task_id = await add_task_and_channel(served, receiver, ["missed"])
                outcome = await deliver(served, missed(task_id))
                async with served.sessions() as session:
                    rows = list(await session.scalars(select(NotificationDelivery)))
                    tally = await notification_store.delivery_tally(session)
        assert tally == [
            notification_store.DeliveryTally(
                "webhook", "missed", delivered=0, failed_attempts=rows[0].attempts, gave_up=1
            )
        ]
        return outcome, rows

    outcome, [row] = asyncio.run(asyncio.wait_for(main(), 60))
    [result] = outcome.deliveries
    assert not result.delivered and result.status == 503 and result.attempts >= 3
    assert row.gave_up_at is not None and row.delivered_at is None
    assert row.last_error == "HTTP 503 Service Unavailable"


pytestmark = pytest.mark.one_backend
