"""The Temporal ``ScheduleSpec``s that fire a cron in a zone at ``domain.fire_times``'s times.

``strict`` is Temporal's calendar as it is: one spec, the cron in the zone.
``cron`` adds what ``domain.dst_corrections`` computes: the native spec skips
the wall times where Temporal's calendar and Vixie cron disagree, and a
second spec (UTC calendars, on the companion schedule ``task-<id>-dst``)
fires the times Vixie cron has there that the native spec no longer makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import ScheduleCalendarSpec, ScheduleRange, ScheduleSpec

from domain.cron import to_temporal_cron
from domain.dst_corrections import WallMinutes, dst_corrections
from domain.fire_times import DstPolicy

_EVERY_WEEKDAY = (ScheduleRange(0, 6),)


@dataclass(frozen=True)
class FireSpecs:
    native: ScheduleSpec
    """The task's own schedule (``task-<id>``)."""
    companion: ScheduleSpec | None
    """The companion schedule's spec; None when the policy needs none."""


def _calendar(wall: WallMinutes) -> ScheduleCalendarSpec:
    return ScheduleCalendarSpec(
        second=(ScheduleRange(0),),
        minute=tuple(ScheduleRange(minute) for minute in wall.minutes),
        hour=(ScheduleRange(wall.hour),),
        day_of_month=(ScheduleRange(wall.day),),
        month=(ScheduleRange(wall.month),),
        year=(ScheduleRange(wall.year),),
        day_of_week=_EVERY_WEEKDAY,
    )


def fire_specs(
    schedule: str, timezone: str | None, dst_policy: DstPolicy, jitter_seconds: int = 0
) -> FireSpecs:
    """The specs whose fires together are ``fire_times(schedule, timezone, dst_policy, ...)``."""
    jitter = timedelta(seconds=jitter_seconds) if jitter_seconds else None
    corrections = dst_corrections(schedule, timezone) if dst_policy is DstPolicy.CRON else None
    native = ScheduleSpec(
        cron_expressions=[to_temporal_cron(schedule)],
        skip=[_calendar(wall) for wall in corrections.excluded] if corrections else [],
        time_zone_name=timezone or "UTC",
        jitter=jitter,
    )
    if not corrections or not corrections.added:
        return FireSpecs(native=native, companion=None)
    companion = ScheduleSpec(
        calendars=[_calendar(wall) for wall in corrections.added],
        time_zone_name="UTC",
        jitter=jitter,
    )
    return FireSpecs(native=native, companion=companion)
