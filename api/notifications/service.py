"""Notification channel use cases: configurations are sealed on the way in, shown without
their secrets, and checked against the address rules of HTTP tasks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import ApiError, ErrorCode, run_not_found, validation_error
from api.notifications.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelPatch,
    ChannelTestOut,
    ChannelUser,
    DeliveryOut,
)
from api.pagination import Page, PageRequest, page_of
from domain.net_guard import BlockedAddress, ResolutionFailed, resolve_allowed
from domain.notification_channels import (
    ChannelConfig,
    ChannelConfigError,
    SlackConfig,
    WebhookConfig,
    keep_hidden,
    parse_config,
)
from domain.notifications import ChannelType, Event
from persistence import notification_store, runs
from persistence.models import NotificationChannel, NotificationDelivery
from persistence.notification_store import TaskUse
from persistence.secret_sealing import SecretSealer, SecretUnreadable
from settings import Settings
from workflows.notify import NotifyWorkflow, notify_workflow_id
from workflows.notify_payloads import TaskEvent

RESOLVE_SECONDS = 2.0
"""How long a channel write waits for a host name to resolve before accepting it
unchecked (every delivery checks it again)."""
TEST_WAIT_SECONDS = 30.0
"""How long ``/test`` waits for its one attempt (10 s at most, once an orchestrator runs it)."""


def channel_not_found(channel_id: int) -> ApiError:
    return ApiError(
        404, ErrorCode.CHANNEL_NOT_FOUND, f"Notification channel with ID {channel_id} not found"
    )


def _duplicate(name: str) -> ApiError:
    return ApiError(
        409,
        ErrorCode.DUPLICATE_CHANNEL_NAME,
        f"A notification channel named {name!r} already exists",
        {"field": "name"},
    )


def channel_out(channel: NotificationChannel, used_by: list[TaskUse]) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        type=channel.type,
        config=channel.config,
        used_by=[ChannelUser(id=use.id, name=use.name) for use in used_by],
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def delivery_out(row: NotificationDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event=row.event,
        event_id=row.event_id,
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        channel_type=row.channel_type,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        gave_up_at=row.gave_up_at,
        created_at=row.created_at,
    )


def _urls(config: ChannelConfig) -> list[tuple[str, str]]:
    if isinstance(config, WebhookConfig):
        return [("config.url", config.url)]
    if isinstance(config, SlackConfig):
        return [("config.webhook_url", config.webhook_url)]
    return []


class NotificationChannelService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        sealer: SecretSealer,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._sealer = sealer
        self._settings = settings

    async def _config(self, kind: str, raw: Any) -> ChannelConfig:
        """The configuration of a channel of type ``kind``, or a 422 naming the field."""
        if kind == ChannelType.EMAIL and not self._settings.smtp_host:
            raise validation_error(
                "type", "e-mail channels need an SMTP server; set SCHEDULER_SMTP_HOST"
            )
        block_private = self._settings.http_block_private
        try:
            config = parse_config(kind, raw, block_private=block_private)
        except ChannelConfigError as exc:
            raise validation_error(exc.field, exc.message) from exc
        for field, url in _urls(config):
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                async with asyncio.timeout(RESOLVE_SECONDS):
                    await resolve_allowed(parts.hostname or "", port, block_private=block_private)
            except BlockedAddress as exc:
                raise validation_error(field, str(exc)) from exc
            except (ResolutionFailed, TimeoutError):
                pass  # perhaps a passing DNS failure: each delivery checks again
        return config

    async def create(self, body: ChannelCreate) -> ChannelOut:
        config = await self._config(body.type, body.config)
        name = body.name.strip()
        if not name:
            raise validation_error("name", "must not be blank")
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            if await notification_store.channel_name_taken(session, name):
                raise _duplicate(name)
            channel = NotificationChannel(name=name, type=body.type, created_at=now, updated_at=now)
            notification_store.write_config(channel, self._sealer, config)
            session.add(channel)
            try:
                await session.flush()
            except IntegrityError as exc:  # lost a race with a create of the same name
                raise _duplicate(name) from exc
        return channel_out(channel, [])

    async def page(self, page: PageRequest) -> Page[ChannelOut]:
        async with self._sessions() as session:
            rows, total = await notification_store.channels_page(
                session, page.offset, page.page_size
            )
            uses = await notification_store.all_uses(session)
        return page_of([channel_out(row, uses.get(row.id, [])) for row in rows], total, page)

    async def get(self, channel_id: int) -> ChannelOut:
        async with self._sessions() as session:
            channel = await notification_store.get_channel(session, channel_id)
            if channel is None:
                raise channel_not_found(channel_id)
            return channel_out(channel, await notification_store.tasks_using(session, channel_id))

    async def patch(self, channel_id: int, body: ChannelPatch) -> ChannelOut:
        async with self._sessions() as session, session.begin():
            channel = await notification_store.get_channel(session, channel_id, for_update=True)
            if channel is None:
                raise channel_not_found(channel_id)
            kind = body.type if isinstance(body.type, str) else channel.type
            if kind != channel.type and not isinstance(body.config, dict):
                raise validation_error("config", f"a {kind} channel needs its config")
            if not isinstance(body.config, dict):
                raw: Any = self._stored(channel)
            elif kind == channel.type:
                raw = keep_hidden(body.config, self._stored(channel), channel.config)
            else:
                raw = body.config
            config = await self._config(kind, raw)
            if isinstance(body.name, str):
                name = body.name.strip()
                if not name:
                    raise validation_error("name", "must not be blank")
                if await notification_store.channel_name_taken(session, name, channel_id):
                    raise _duplicate(name)
                channel.name = name
            channel.type = kind
            notification_store.write_config(channel, self._sealer, config)
            channel.updated_at = datetime.now(UTC)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise _duplicate(channel.name) from exc
            used_by = await notification_store.tasks_using(session, channel_id)
        return channel_out(channel, used_by)

    def _stored(self, channel: NotificationChannel) -> dict[str, Any]:
        try:
            return notification_store.stored_config(self._sealer, channel)
        except SecretUnreadable:
            # Sealed with a key no longer configured: only a complete config can replace it.
            return {}

    async def delete(self, channel_id: int) -> None:
        """Delete a channel no task subscribes to; 409 ``CHANNEL_IN_USE`` names the tasks."""
        async with self._sessions() as session, session.begin():
            channel = await notification_store.get_channel(session, channel_id, for_update=True)
            if channel is None:
                raise channel_not_found(channel_id)
            used_by = await notification_store.tasks_using(session, channel_id)
            if used_by:
                ids = [use.id for use in used_by]
                raise ApiError(
                    409,
                    ErrorCode.CHANNEL_IN_USE,
                    f"Notification channel {channel_id} cannot be deleted: tasks {ids} use it",
                    {"used_by": [{"id": use.id, "name": use.name} for use in used_by]},
                )
            await session.delete(channel)

    async def test(self, channel_id: int) -> ChannelTestOut:
        """Send a ``test`` event to the channel (one attempt) and answer its outcome."""
        async with self._sessions() as session:
            if await notification_store.get_channel(session, channel_id) is None:
                raise channel_not_found(channel_id)
        event = TaskEvent(
            event=Event.TEST.value,
            event_id=f"test-{channel_id}-{uuid.uuid4().hex}",
            task_id=None,
            occurred_at=datetime.now(UTC),
            channel_id=channel_id,
        )
        handle = await self._client.start_workflow(
            NotifyWorkflow.run,
            event,
            id=notify_workflow_id(event.event_id),
            task_queue=self._settings.orchestrator_queue,
            static_summary=f"test notification to channel {channel_id}",
        )
        try:
            outcome = await asyncio.wait_for(handle.result(), TEST_WAIT_SECONDS)
        except TimeoutError as exc:
            raise ApiError(
                503,
                ErrorCode.MESSAGE_QUEUE_ERROR,
                f"No orchestrator delivered the test event within {TEST_WAIT_SECONDS:g} s",
                {"event_id": event.event_id},
            ) from exc
        if not outcome.deliveries:  # deleted meanwhile
            raise channel_not_found(channel_id)
        [delivery] = outcome.deliveries
        return ChannelTestOut(
            event_id=event.event_id,
            delivered=delivery.delivered,
            attempts=delivery.attempts,
            status=delivery.status,
            error=delivery.error,
        )

    async def deliveries_of_run(self, run_id: int) -> list[DeliveryOut]:
        async with self._sessions() as session:
            if await runs.get_run(session, run_id) is None:
                raise run_not_found(run_id)
            rows = await notification_store.deliveries_of_run(session, run_id)
        return [delivery_out(row) for row in rows]
