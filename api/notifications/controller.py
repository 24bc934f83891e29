"""``/api/notification-channels``: where task events go; configurations' secrets are
write-only."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.notifications.schemas import ChannelCreate, ChannelOut, ChannelPatch, ChannelTestOut
from api.notifications.service import NotificationChannelService
from api.openapi.responses import error_responses
from api.openapi.security import AUTHENTICATED
from api.pagination import Page, PageNumber, PageRequest, PageSize

ChannelIdParam = Annotated[
    int, Parameter(description="Notification channel id", ge=1, le=2**31 - 1)
]
READ = [requires(Permission.SYSTEM_READ)]
WRITE = [requires(Permission.SYSTEM_WRITE)]


class NotificationChannelController(Controller):
    path = "/api/notification-channels"
    tags = ["notifications"]
    security = AUTHENTICATED

    @post(
        "/",
        guards=WRITE,
        status_code=201,
        dto=StrictBody[ChannelCreate],
        return_dto=None,
        responses=error_responses(403, 409),
        summary="Create a notification channel (webhook, Slack or e-mail)",
    )
    async def create_notification_channel(
        self, data: ChannelCreate, notification_channels: NotificationChannelService
    ) -> Envelope[ChannelOut]:
        return ok(await notification_channels.create(data))

    @get(
        "/",
        guards=READ,
        responses=error_responses(403),
        summary="List notification channels (secrets shown as ***)",
    )
    async def list_notification_channels(
        self,
        notification_channels: NotificationChannelService,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> Envelope[Page[ChannelOut]]:
        return ok(await notification_channels.page(PageRequest.of(page, page_size)))

    @get(
        "/{channel_id:int}",
        guards=READ,
        responses=error_responses(403, 404),
        summary="Get one notification channel (secrets shown as ***)",
    )
    async def get_notification_channel(
        self, channel_id: ChannelIdParam, notification_channels: NotificationChannelService
    ) -> Envelope[ChannelOut]:
        return ok(await notification_channels.get(channel_id))

    @patch(
        "/{channel_id:int}",
        guards=WRITE,
        dto=StrictBody[ChannelPatch],
        return_dto=None,
        responses=error_responses(403, 404, 409),
        summary="Change a notification channel's name or configuration",
    )
    async def update_notification_channel(
        self,
        channel_id: ChannelIdParam,
        data: ChannelPatch,
        notification_channels: NotificationChannelService,
    ) -> Envelope[ChannelOut]:
        return ok(await notification_channels.patch(channel_id, data))

    @delete(
        "/{channel_id:int}",
        guards=WRITE,
        status_code=200,
        responses=error_responses(403, 404, 409),
        summary="Delete a notification channel no task uses",
    )
    async def delete_notification_channel(
        self, channel_id: ChannelIdParam, notification_channels: NotificationChannelService
    ) -> Envelope[None]:
        await notification_channels.delete(channel_id)
        return ok(None)

    @post(
        "/{channel_id:int}/test",
        guards=WRITE,
        status_code=200,
        responses=error_responses(403, 404),
        summary="Send a test event to the channel and answer how its delivery went",
    )
    async def test_notification_channel(
        self, channel_id: ChannelIdParam, notification_channels: NotificationChannelService
    ) -> Envelope[ChannelTestOut]:
        return ok(await notification_channels.test(channel_id))
