"""When a task's schedule fires: the one function the preview, the ledger and the schedule share.

Two DST policies (``DstPolicy``):

- ``strict``: whatever Temporal's calendar does by itself with the cron in
  the task's zone (``domain.temporal_calendar`` ports it). In a zone west of
  Greenwich a repeated wall time fires twice and a skipped one not at all;
  east of it Go's time resolution makes the calendar fire a repeated fixed
  time only at its second occurrence, drop some wildcard fires of the
  repeated hour and add a fire an hour early (README, "DST policies").
- ``cron`` (default): Vixie cron's rules. A fixed-time job (no ``*``, ``/``
  or range in its minute and hour fields) whose time a spring-forward skips
  runs once, right after the jump; one whose time a fall-back repeats runs
  once, at the first occurrence. Other jobs follow the clock: every instant
  whose wall time matches, so both passes of a repeated hour and none of a
  skipped one. ``domain.dst_corrections`` turns the difference between the
  two into schedule entries, so Temporal fires exactly these times.

Both policies fire only in the years 2000 to 2100, as Temporal's calendar does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from domain.cron_fields import FIRST_YEAR, LAST_YEAR, CronFields, parse_fields
from domain.temporal_calendar import calendar_times, local_of

_EPOCH = datetime(1970, 1, 1)
_DAY = 86400


class DstPolicy(StrEnum):
    CRON = "cron"
    STRICT = "strict"


@dataclass(frozen=True)
class FireTime:
    """One nominal fire time of a schedule (jitter not applied)."""

    at: datetime
    """The instant, timezone-aware UTC."""
    note: str | None = None
    """Why this fire is shifted, or is one pass of a repeated hour; None for an ordinary fire."""


def fire_times(
    schedule: str,
    timezone: str | None,
    dst_policy: DstPolicy,
    *,
    after: datetime,
    until: datetime | None = None,
    count: int | None = None,
) -> list[FireTime]:
    """The fire times of ``schedule`` in ``timezone`` (None: UTC) under ``dst_policy``.

    Exactly the nominal scheduled start times (Temporal's
    ``TemporalScheduledStartTime``, a run's ``scheduled_at``) at which the
    task's Temporal schedule, as ``workflows.schedules`` builds it, fires:
    every ``t`` with ``after < t <= until``, or the first ``count`` after
    ``after`` (``until`` and ``count`` together: whichever ends first; at
    least one of them is required). Ascending, distinct, UTC. Jitter, the
    catch-up window, the overlap policy and pauses are not applied: this is
    what the schedule *defines*, what the ledger matches runs against.

    ``after`` and ``until`` must be timezone-aware. ``schedule`` must be an
    expression ``domain.cron.to_temporal_cron`` accepts (else ``CronError``);
    ``timezone`` an IANA name (else ``ZoneInfoNotFoundError``).
    """
    if until is None and count is None:
        raise ValueError("give until, count or both")
    if after.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ValueError("after and until must be timezone-aware")
    fields = parse_fields(schedule)
    zone = ZoneInfo(timezone or "UTC")
    start = int(after.timestamp() // 1)
    end = None if until is None else int(until.timestamp() // 1)
    found = (
        _strict_times(fields, zone, start)
        if dst_policy is DstPolicy.STRICT
        else _cron_times(fields, zone, start, end)
    )
    bounded = found if end is None else takewhile(lambda fire: fire.at.timestamp() <= end, found)
    return list(islice(bounded, count))


def _strict_times(fields: CronFields, zone: ZoneInfo, after: int) -> Iterator[FireTime]:
    for instant in calendar_times(fields, zone, after):
        yield FireTime(datetime.fromtimestamp(instant, UTC), _strict_note(fields, zone, instant))


def _cron_times(
    fields: CronFields, zone: ZoneInfo, after: int, until: int | None
) -> Iterator[FireTime]:
    day = max(local_of(after, zone).date() - timedelta(days=1), date(FIRST_YEAR, 1, 1))
    last_day = date(LAST_YEAR, 12, 31)
    if until is not None:
        last_day = min(last_day, local_of(until, zone).date() + timedelta(days=1))
    while day <= last_day:
        for fire in _cron_times_of_day(fields, zone, day, after, until):
            if fire.at.timestamp() > after:
                yield fire
        day += timedelta(days=1)


def _offset(instant: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def _cron_times_of_day(
    fields: CronFields, zone: ZoneInfo, day: date, after: int, until: int | None
) -> list[FireTime]:
    """The fires of one local date under Vixie cron's rules, ascending.

    It may include fires outside ``(after, until]`` but skips the zone
    lookups of wall times that surely are.
    """
    weekday = (day.weekday() + 1) % 7
    if not fields.matches_day(day.month, day.day, weekday):
        return []
    fires: dict[int, FireTime] = {}
    midnight = int((datetime(day.year, day.month, day.day) - _EPOCH).total_seconds())
    # A date holds at most one offset change: the offsets two days either side
    # bound the instants of its wall times.
    offsets = [_offset(midnight + shift, zone) for shift in (-2 * _DAY, 0, 2 * _DAY)]
    lowest, highest = min(offsets), max(offsets)
    for hour in sorted(fields.hours):
        for minute in sorted(fields.minutes):
            as_if_utc = midnight + hour * 3600 + minute * 60
            if as_if_utc - lowest <= after:
                continue
            if until is not None and as_if_utc - highest > until:
                break
            wall = datetime(day.year, day.month, day.day, hour, minute)
            for instant, note in _instants_of(fields, zone, wall):
                fires.setdefault(instant, FireTime(datetime.fromtimestamp(instant, UTC), note))
    return [fires[instant] for instant in sorted(fires)]


def _readings(wall: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """``wall`` read with the offsets before and after a change (equal when there is none)."""
    return (
        int(wall.replace(tzinfo=zone, fold=0).timestamp()),
        int(wall.replace(tzinfo=zone, fold=1).timestamp()),
    )


def _instants_of(
    fields: CronFields, zone: ZoneInfo, wall: datetime
) -> list[tuple[int, str | None]]:
    """The instants a matching wall time fires at under the ``cron`` policy, with their notes."""
    first, second = _readings(wall, zone)
    if first == second:
        return [(first, None)]
    shown = f"{wall:%H:%M} on {wall:%Y-%m-%d}"
    earlier, later = sorted((first, second))
    if local_of(first, zone) == wall:
        if fields.fixed_time:
            return [
                (earlier, f"{shown} occurs twice (DST ends); runs at its first occurrence only")
            ]
        return [
            (earlier, f"{shown} occurs twice (DST ends): first pass"),
            (later, f"{shown} occurs twice (DST ends): second pass"),
        ]
    if not fields.fixed_time:
        return []
    jump = _transition_between(earlier, later, zone)
    after_jump = local_of(jump, zone)
    return [
        (
            jump,
            f"{shown} does not exist (DST starts, clocks jump to {after_jump:%H:%M}); "
            "runs right after the jump",
        )
    ]


def _transition_between(low: int, high: int, zone: ZoneInfo) -> int:
    """The first instant in ``(low, high]`` with ``high``'s UTC offset (the jump of a gap)."""
    target = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high


def _strict_note(fields: CronFields, zone: ZoneInfo, instant: int) -> str | None:
    wall = local_of(instant, zone)
    shown = f"{wall:%H:%M} on {wall:%Y-%m-%d}"
    if not fields.matches_time(wall.hour, wall.minute):
        return (
            f"Temporal's calendar fires at {shown} at a DST change, "
            "a time the schedule does not name"
        )
    first, second = sorted(_readings(wall, zone))
    if first == second or local_of(first, zone) != wall:
        return None
    twin, passes = (second, "first") if instant == first else (first, "second")
    nearby = islice(calendar_times(fields, zone, first - 1), 4)
    if twin in nearby:
        return f"{shown} occurs twice (DST ends): {passes} pass"
    return f"{shown} occurs twice (DST ends); Temporal's calendar fires at its {passes} pass only"
