"""Bodies and views of ``/api/notification-channels`` and of a run's deliveries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from api.body import NO_NUL
from api.openapi.fields import UtcDateTime, one_of
from domain.notifications import Event

ChannelName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=NO_NUL)]
ChannelTypeName = Literal["webhook", "slack", "email"]
ChannelConfigIn = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="By type: webhook `{url, secret?, headers?}`, slack `{webhook_url}`, "
        'email `{to: [addresses]}`. A value written back exactly as shown (`"***"`, a '
        "URL ending in `/***`) keeps the stored one."
    ),
]
EventText = Annotated[str, one_of(event.value for event in Event)]


class ChannelCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: ChannelName
    type: ChannelTypeName
    config: ChannelConfigIn


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; a new ``type`` needs its ``config``."""

    name: ChannelName | UnsetType = UNSET
    type: ChannelTypeName | UnsetType = UNSET
    config: ChannelConfigIn | UnsetType = UNSET


class ChannelUser(msgspec.Struct):
    """A task subscribed to the channel."""

    id: int
    name: str


class ChannelOut(msgspec.Struct):
    id: int
    name: str
    type: Annotated[str, one_of(("webhook", "slack", "email"))]
    config: dict[str, Any]
    """The configuration with its secrets as ``***`` (and a URL's token part)."""
    used_by: list[ChannelUser]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ChannelTestOut(msgspec.Struct):
    """What the ``test`` event's one delivery attempt came to."""

    event_id: str
    delivered: bool
    attempts: int
    status: int | None
    """The receiver's HTTP status (the SMTP reply code for e-mail); null without an answer."""
    error: str | None


class DeliveryOut(msgspec.Struct):
    id: int
    event: EventText
    event_id: str
    channel_id: int | None
    """Null once the channel was deleted (its name and type stay)."""
    channel_name: str
    channel_type: Annotated[str, one_of(("webhook", "slack", "email"))]
    attempts: int
    last_status: int | None
    """The HTTP status (SMTP reply code) of the last attempt; null without an answer."""
    last_error: str | None
    delivered_at: UtcDateTime | None
    gave_up_at: UtcDateTime | None
    """When the retries ran out (``SCHEDULER_NOTIFY_RETRY_HOURS``) or no retry could help."""
    created_at: UtcDateTime
