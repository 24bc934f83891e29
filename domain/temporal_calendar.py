"""The fire times Temporal's schedule calendar computes for a cron in a time zone.

A faithful port of the server's ``compiledCalendar.next`` (Temporal 1.2x/1.3x,
``service/worker/scheduler/calendar.go``) including how Go's ``time.Date``
resolves a wall-clock time that a DST change skips or repeats, because that
resolution *is* the ``strict`` policy: what the calendar does by itself at a
transition. ``tests/test_fire_times.py`` holds this port against the dev
server's ``ListScheduleMatchingTimes``.

All instants are whole Unix seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.cron_fields import FIRST_YEAR, LAST_YEAR, CronFields

_HOUR = 3600
_EPOCH = datetime(1970, 1, 1)


def local_of(instant: int, zone: ZoneInfo) -> datetime:
    """The wall-clock time (naive) in ``zone`` at ``instant``."""
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None)


def _offset(instant: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return int(offset.total_seconds()) if offset else 0


def go_date(wall: datetime, zone: ZoneInfo) -> int:
    """The instant Go's ``time.Date`` gives for the wall-clock time ``wall`` in ``zone``.

    Go reads the wall time as if it were UTC, takes the offset in force at
    that instant, and, if the result falls outside that offset's period,
    the offset in force at the result. A skipped time therefore lands an
    offset's difference away, and a repeated time resolves to its first
    occurrence west of Greenwich and to its second east of it.
    """
    as_if_utc = int((wall - _EPOCH).total_seconds())
    guess = as_if_utc - _offset(as_if_utc, zone)
    return as_if_utc - _offset(guess, zone)


def _days_in_month(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 + ((0b1010110101010 >> month) & 1)


def _wall(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    # Go normalises out-of-range fields (hour 24 is the next day's 00); so does timedelta.
    return datetime(year, month, 1) + timedelta(
        days=day - 1, hours=hour, minutes=minute, seconds=second
    )


def calendar_next(fields: CronFields, zone: ZoneInfo, after: int) -> int | None:
    """The first instant after ``after`` that the calendar of ``fields`` matches, per Temporal."""

    def date(y: int, mo: int, d: int, h: int, m: int, s: int) -> int:
        return go_date(_wall(y, mo, d, h, m, s), zone)

    start = local_of(after, zone)
    y, mo, d = start.year, start.month, start.day
    h, m, s = start.hour, start.minute, start.second
    dst_offset = _HOUR if local_of(after - _HOUR, zone).hour == h else 0
    s += 1
    while True:
        if s >= 60:
            m, s = m + 1, 0
        if m >= 60:
            previous = date(y, mo, d, h, 0, 0)
            h, m = h + 1, 0
            following = date(y, mo, d, h, 0, 0)
            if dst_offset == 0 and following - previous > _HOUR:
                h, dst_offset = h - 1, _HOUR
            else:
                dst_offset = 0
        if h >= 24:
            d, h = d + 1, 0
        if d > _days_in_month(mo, y):
            mo, d = mo + 1, 1
        if mo > 12:
            y, mo = y + 1, 1
        if y > LAST_YEAR:
            return None
        if y < FIRST_YEAR:
            y, mo, d, h, m, s, dst_offset = y + 1, 1, 1, 0, 0, 0, 0
            continue
        if mo not in fields.months:
            mo, d, h, m, s, dst_offset = mo + 1, 1, 0, 0, 0, 0
            if mo > 12:
                continue
            while mo not in fields.months:
                mo += 1
                if mo > 12:
                    break
            if mo > 12:
                continue
        if not _day_matches(fields, zone, y, mo, d, h, m, s):
            d, h, m, s, dst_offset = d + 1, 0, 0, 0, 0
            while d <= _days_in_month(mo, y) and not _day_matches(fields, zone, y, mo, d, 0, 0, 0):
                d += 1
            if d > _days_in_month(mo, y):
                continue
        if h not in fields.hours:
            h, m, s, dst_offset = h + 1, 0, 0, 0
            while h < 24 and h not in fields.hours:
                h += 1
            if h >= 24:
                continue
        if m not in fields.minutes:
            m, s = m + 1, 0
            while m < 60 and m not in fields.minutes:
                m += 1
            if m >= 60:
                continue
        if s != 0:
            # Cron expressions fire on second 0 only.
            s = 60
            continue
        found = date(y, mo, d, h, m, s)
        if local_of(found, zone).hour != h:
            # A wall time a spring-forward skipped: Go moved it into another hour.
            h, m, s = h + 1, 0, 0
            continue
        return found + dst_offset


def _day_matches(
    fields: CronFields, zone: ZoneInfo, y: int, mo: int, d: int, h: int, m: int, s: int
) -> bool:
    if d not in fields.days_of_month:
        return False
    # Temporal takes the weekday of the resolved instant, not of the date.
    weekday = (local_of(go_date(_wall(y, mo, d, h, m, s), zone), zone).weekday() + 1) % 7
    return weekday in fields.weekdays


def calendar_times(fields: CronFields, zone: ZoneInfo, after: int) -> Iterator[int]:
    """Every instant after ``after`` that Temporal's calendar fires, ascending."""
    current = calendar_next(fields, zone, after)
    while current is not None:
        yield current
        current = calendar_next(fields, zone, current)
