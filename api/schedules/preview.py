"""A schedule's next fire times as the preview endpoints show them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from api.schedules.schemas import NextRun
from domain.fire_times import DstPolicy, fire_times


def next_runs(
    schedule: str, timezone: str | None, dst_policy: DstPolicy, after: datetime, count: int
) -> list[NextRun]:
    """The first ``count`` fires after ``after``: the times Temporal will fire (jitter aside)."""
    zone = ZoneInfo(timezone or "UTC")
    return [
        NextRun(at=fire.at, local=fire.at.astimezone(zone).isoformat(), note=fire.note)
        for fire in fire_times(schedule, timezone, dst_policy, after=after, count=count)
    ]
