"""A schedule's next fire times as the preview endpoints show them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from api.schedules.rules import check_aware, check_schedule, check_timezone
from api.schedules.schemas import NextRun, PreviewOut
from domain.fire_times import DstPolicy, FireTime, fire_times


def next_runs(
    schedule: str, timezone: str | None, dst_policy: DstPolicy, after: datetime, count: int
) -> list[NextRun]:
    """The first ``count`` fires after ``after``: the times Temporal will fire (jitter aside)."""
    zone = ZoneInfo(timezone or "UTC")
    return [
        NextRun(at=fire.at, local=fire.at.astimezone(zone).isoformat(), note=fire.note)
        for fire in fire_times(schedule, timezone, dst_policy, after=after, count=count)
    ]


def preview(
    schedule: str, timezone: str | None, dst_policy: DstPolicy, after: datetime, count: int
) -> PreviewOut:
    """What an expression that is not a task yet would fire; the errors of task create."""
    check_schedule(schedule)
    check_timezone(timezone)
    check_aware("after", after)
    schedule = " ".join(schedule.split())
    return PreviewOut(
        schedule=schedule,
        timezone=timezone,
        dst_policy=dst_policy,
        next_runs=next_runs(schedule, timezone, dst_policy, after, count),
    )


def fires_between(
    schedule: str,
    timezone: str | None,
    dst_policy: DstPolicy,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[FireTime]:
    """The fires of ``[start, end]``, both ends included as Temporal's backfill includes them;
    at most ``limit`` of them."""
    before_start = datetime.fromtimestamp(math.ceil(start.timestamp()) - 1, UTC)
    return fire_times(schedule, timezone, dst_policy, after=before_start, until=end, count=limit)
