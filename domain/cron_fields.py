"""A five-field cron expression read into the sets of values each field matches.

The reading is Temporal's (its server parses the cron string of a schedule
the same way): ``x/y`` runs from ``x`` to the field's maximum, ``7`` in the
day-of-week field is Sunday, and when both day fields are restricted a day
must match *both* (not Vixie cron's either-or).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.cron import to_temporal_cron

FIRST_YEAR = 2000
LAST_YEAR = 2100
"""Temporal's calendar knows the years 2000 to 2100 and fires in no other."""

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_WILDCARD_SYNTAX = ("*", "/", "-")


@dataclass(frozen=True)
class CronFields:
    """The values each field of an accepted expression matches."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 = Sunday, as in Temporal and cron."""
    fixed_time: bool
    """No ``*``, ``/`` or range in the minute and hour fields: Vixie cron's fixed-time job."""

    def matches_day(self, month: int, day: int, weekday: int) -> bool:
        return month in self.months and day in self.days_of_month and weekday in self.weekdays

    def matches_time(self, hour: int, minute: int) -> bool:
        return hour in self.hours and minute in self.minutes


def _value(text: str, names: tuple[str, ...], offset: int) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + offset
    return int(text)


def _field(
    text: str, low: int, high: int, names: tuple[str, ...] = (), offset: int = 0
) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        has_step = "/" in part
        if has_step:
            part, step_text = part.split("/")
            step = int(step_text)
        start, end = low, high
        if part != "*":
            if "-" in part:
                first, last = part.split("-")
                start, end = _value(first, names, offset), _value(last, names, offset)
            else:
                start = _value(part, names, offset)
                end = high if has_step else start
        values.update(range(start, max(start, end) + 1, step))
    return values


def parse_fields(expression: str) -> CronFields:
    """The fields of ``expression`` (any form ``to_temporal_cron`` accepts, or ``CronError``)."""
    minute, hour, day, month, weekday = to_temporal_cron(expression).split(" ")
    weekdays = _field(weekday, 0, 7, _WEEKDAYS)
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    return CronFields(
        minutes=frozenset(_field(minute, 0, 59)),
        hours=frozenset(_field(hour, 0, 23)),
        days_of_month=frozenset(_field(day, 1, 31)),
        months=frozenset(_field(month, 1, 12, _MONTHS, offset=1)),
        weekdays=frozenset(weekdays),
        fixed_time=not any(ch in minute + hour for ch in _WILDCARD_SYNTAX),
    )
