"""Queries over notification channels, the tasks subscribed to them, and deliveries."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.notification_channels import ChannelConfig, as_json, redacted
from persistence.conflicts import insert_unless_present
from persistence.models import NotificationChannel, NotificationDelivery, Task
from persistence.secret_sealing import SecretSealer
from persistence.types import utcnow

_DELIVERIES = NotificationDelivery.metadata.tables[NotificationDelivery.__tablename__]


def _seal_name(name: str) -> str:
    """What a channel's sealed configuration is bound to: its name."""
    return f"notification-channel:{name}"


def write_config(channel: NotificationChannel, sealer: SecretSealer, config: ChannelConfig) -> None:
    """Store ``config`` on the channel: sealed whole, and shown without its secrets.

    Call it again after renaming a channel: the seal is bound to the name.
    """
    channel.key_id, channel.sealed_config = sealer.seal(
        _seal_name(channel.name), json.dumps(as_json(config))
    )
    channel.config = redacted(config)


def stored_config(sealer: SecretSealer, channel: NotificationChannel) -> dict[str, Any]:
    """The channel's whole configuration, secrets included (``SecretUnreadable`` when
    the configured payload keys cannot open it)."""
    opened: dict[str, Any] = json.loads(
        sealer.open(_seal_name(channel.name), channel.key_id, channel.sealed_config)
    )
    return opened


@dataclass(frozen=True, slots=True)
class TaskUse:
    """A task subscribed to a channel."""

    id: int
    name: str


async def get_channel(
    session: AsyncSession, channel_id: int, *, for_update: bool = False
) -> NotificationChannel | None:
    return await session.get(NotificationChannel, channel_id, with_for_update=for_update or None)


async def channels_page(
    session: AsyncSession, offset: int, limit: int
) -> tuple[list[NotificationChannel], int]:
    total = await session.scalar(select(func.count()).select_from(NotificationChannel))
    rows = await session.scalars(
        select(NotificationChannel).order_by(NotificationChannel.id).offset(offset).limit(limit)
    )
    return list(rows), int(total or 0)


async def channels_with_ids(
    session: AsyncSession, ids: Collection[int]
) -> dict[int, NotificationChannel]:
    if not ids:
        return {}
    rows = await session.scalars(
        select(NotificationChannel).where(NotificationChannel.id.in_(sorted(set(ids))))
    )
    return {row.id: row for row in rows}


async def missing_channels(session: AsyncSession, ids: Collection[int]) -> list[int]:
    """Those of ``ids`` that name no channel, ascending."""
    if not ids:
        return []
    found = set(
        await session.scalars(
            select(NotificationChannel.id).where(NotificationChannel.id.in_(sorted(set(ids))))
        )
    )
    return sorted(set(ids) - found)


async def channel_name_taken(
    session: AsyncSession, name: str, except_id: int | None = None
) -> bool:
    query = select(NotificationChannel.id).where(NotificationChannel.name == name)
    if except_id is not None:
        query = query.where(NotificationChannel.id != except_id)
    return (await session.scalar(query.limit(1))) is not None


async def tasks_using(session: AsyncSession, channel_id: int) -> list[TaskUse]:
    """The tasks whose ``notifications`` name the channel, by id.

    Subscriptions are JSON inside each task row (querying it differs per
    backend), so they are read and searched here.
    """
    rows = await session.execute(select(Task.id, Task.name, Task.notifications).order_by(Task.id))
    return [
        TaskUse(task_id, name)
        for task_id, name, subscriptions in rows
        if any(item.get("channel_id") == channel_id for item in subscriptions or [])
    ]


async def record_event(
    session: AsyncSession,
    *,
    event_id: str,
    event: str,
    task_id: int | None,
    task_run_id: int | None,
    channels: list[NotificationChannel],
    body: dict[str, Any],
) -> list[int]:
    """One delivery row per channel for the event (rows already there are kept as they
    are); the ids of the event's deliveries still to be made, ascending."""
    now = utcnow()
    for channel in channels:
        await session.execute(
            insert_unless_present(
                session,
                _DELIVERIES,
                {
                    "event_id": event_id,
                    "event": event,
                    "task_id": task_id,
                    "task_run_id": task_run_id,
                    "channel_id": channel.id,
                    "channel_type": channel.type,
                    "channel_name": channel.name,
                    "body": body,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        )
    ids = await session.scalars(
        select(_DELIVERIES.c.id)
        .where(
            _DELIVERIES.c.event_id == event_id,
            _DELIVERIES.c.delivered_at.is_(None),
            _DELIVERIES.c.gave_up_at.is_(None),
        )
        .order_by(_DELIVERIES.c.id)
    )
    return list(ids)


async def get_delivery(session: AsyncSession, delivery_id: int) -> NotificationDelivery | None:
    return await session.get(NotificationDelivery, delivery_id)


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    attempt: int,
    status: int | None,
    error: str | None,
    delivered_at: datetime | None,
) -> None:
    """The outcome of attempt number ``attempt``; an older attempt reported late, or one
    after the delivery was made, changes nothing."""
    await session.execute(
        update(_DELIVERIES)
        .where(
            _DELIVERIES.c.id == delivery_id,
            _DELIVERIES.c.delivered_at.is_(None),
            _DELIVERIES.c.attempts <= attempt,
        )
        .values(
            attempts=attempt,
            last_status=status,
            last_error=error,
            delivered_at=delivered_at,
            updated_at=utcnow(),
        )
    )


async def give_up(session: AsyncSession, delivery_id: int, reason: str) -> None:
    await session.execute(
        update(_DELIVERIES)
        .where(
            _DELIVERIES.c.id == delivery_id,
            _DELIVERIES.c.delivered_at.is_(None),
            _DELIVERIES.c.gave_up_at.is_(None),
        )
        .values(
            gave_up_at=utcnow(),
            last_error=func.coalesce(_DELIVERIES.c.last_error, reason),
            updated_at=utcnow(),
        )
    )


async def deliveries_of_run(session: AsyncSession, task_run_id: int) -> list[NotificationDelivery]:
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.task_run_id == task_run_id)
        .order_by(NotificationDelivery.id)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class DeliveryTally:
    channel_type: str
    event: str
    delivered: int
    failed_attempts: int
    gave_up: int


async def delivery_tally(session: AsyncSession) -> list[DeliveryTally]:
    """Per channel type and event: deliveries made, failed attempts, deliveries given up."""
    delivered = func.count(_DELIVERIES.c.delivered_at)
    rows = await session.execute(
        select(
            _DELIVERIES.c.channel_type,
            _DELIVERIES.c.event,
            delivered,
            func.coalesce(func.sum(_DELIVERIES.c.attempts), 0) - delivered,
            func.count(_DELIVERIES.c.gave_up_at),
        )
        .group_by(_DELIVERIES.c.channel_type, _DELIVERIES.c.event)
        .order_by(_DELIVERIES.c.channel_type, _DELIVERIES.c.event)
    )
    return [DeliveryTally(*(row[0], row[1], int(row[2]), int(row[3]), int(row[4]))) for row in rows]


async def all_uses(session: AsyncSession) -> dict[int, list[TaskUse]]:
    """The tasks subscribed to each channel, by channel id."""
    found: dict[int, list[TaskUse]] = {}
    rows = await session.execute(select(Task.id, Task.name, Task.notifications).order_by(Task.id))
    for task_id, name, subscriptions in rows:
        for item in subscriptions or []:
            found.setdefault(int(item["channel_id"]), []).append(TaskUse(task_id, name))
    return found
