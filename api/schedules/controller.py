"""``/api/schedules``: what an expression that is not yet a task would fire."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, post

from api.auth.guards import requires
from api.auth.permissions import Permission
from api.body import StrictBody
from api.envelope import Envelope, ok
from api.openapi.responses import error_responses
from api.schedules.preview import next_runs
from api.schedules.rules import check_aware, check_schedule, check_timezone
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
        check_schedule(data.schedule)
        check_timezone(data.timezone)
        after = datetime.now(UTC) if data.after is None else data.after
        check_aware("after", after)
        schedule = " ".join(data.schedule.split())
        policy = DstPolicy(data.dst_policy)
        return ok(
            PreviewOut(
                schedule=schedule,
                timezone=data.timezone,
                dst_policy=policy,
                next_runs=next_runs(schedule, data.timezone, policy, after, data.count),
            )
        )
