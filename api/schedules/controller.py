"""``/api/schedules``: what an expression that is not yet a task would fire."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, post

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.schedules.preview import preview
from api.schedules.schemas import PreviewIn, PreviewOut
from domain.fire_times import DstPolicy


class ScheduleController(Controller):
    path = "/api/schedules"
    tags = ["schedules"]

    @post(
        "/preview",
        guards=[requires(Permission.TASK_READ)],
        status_code=200,
        dto=StrictBody[PreviewIn],
        return_dto=None,
        responses=error_responses(400, 401, 403, 422),
        summary="The next fire times of a cron in a zone, before it is saved as a task",
    )
    async def preview(self, data: PreviewIn) -> Envelope[PreviewOut]:
        after = datetime.now(UTC) if data.after is None else data.after
        return ok(
            preview(data.schedule, data.timezone, DstPolicy(data.dst_policy), after, data.count)
        )
