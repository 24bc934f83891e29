"""What a ``cron``-policy schedule needs beside its native calendar to fire Vixie cron's times.

Away from a UTC-offset change Temporal's calendar and Vixie cron agree. At
each change in 2000-2100 (the years Temporal's calendar knows) the native
calendar's fires ``S`` and the ``cron`` policy's fires ``V`` are compared:

- every wall time (in the task's zone) at which ``S`` fires outside ``V`` is
  *excluded* from the native calendar; an exclusion is by wall time, so it
  also removes the other pass of a repeated time;
- every fire of ``V`` that the excluded calendar no longer makes is *added*,
  as a UTC wall time, to a second schedule (``workflows.schedules``).

So ``native - excluded`` and ``added`` are disjoint and together are ``V``:
the times ``domain.fire_times`` gives for the ``cron`` policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import takewhile
from zoneinfo import ZoneInfo

from domain.cron_fields import FIRST_YEAR, LAST_YEAR, CronFields, parse_fields
from domain.fire_times import DstPolicy, fire_times
from domain.temporal_calendar import calendar_times, local_of

_DAY = 86400
# Offsets change by at most a few hours; every difference between S and V
# lies within that of the change (the ports of both are checked against
# the dev server in tests/test_fire_times.py).
_REACH = 4 * 3600


@dataclass(frozen=True)
class WallMinutes:
    """Some minutes of one wall-clock hour of one date (second 0)."""

    year: int
    month: int
    day: int
    hour: int
    minutes: tuple[int, ...]


@dataclass(frozen=True)
class DstCorrections:
    excluded: tuple[WallMinutes, ...] = ()
    """Wall times in the task's zone the native calendar must not fire at."""
    added: tuple[WallMinutes, ...] = ()
    """UTC wall times a second schedule fires at."""

    def __bool__(self) -> bool:
        return bool(self.excluded or self.added)


@lru_cache(maxsize=64)
def offset_changes(timezone: str) -> tuple[int, ...]:
    """The instants in 2000-2100 at which ``timezone``'s UTC offset changes (the first second)."""
    zone = ZoneInfo(timezone)
    start = int(datetime(FIRST_YEAR, 1, 1, tzinfo=UTC).timestamp()) - _DAY
    end = int(datetime(LAST_YEAR + 1, 1, 2, tzinfo=UTC).timestamp())
    changes: list[int] = []
    previous = datetime.fromtimestamp(start, zone).utcoffset()
    for day_start in range(start, end, _DAY):
        offset = datetime.fromtimestamp(day_start + _DAY, zone).utcoffset()
        if offset == previous:
            continue
        low, high = day_start, day_start + _DAY
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
                high = middle
            else:
                low = middle
        changes.append(high)
        previous = offset
    return tuple(changes)


def _group(walls: Iterable[datetime]) -> tuple[WallMinutes, ...]:
    minutes: dict[tuple[int, int, int, int], set[int]] = defaultdict(set)
    for wall in walls:
        minutes[(wall.year, wall.month, wall.day, wall.hour)].add(wall.minute)
    return tuple(
        WallMinutes(*key, minutes=tuple(sorted(found))) for key, found in sorted(minutes.items())
    )


def _native(fields: CronFields, zone: ZoneInfo, after: int, until: int) -> list[int]:
    return list(takewhile(lambda t: t <= until, calendar_times(fields, zone, after)))


@lru_cache(maxsize=256)
def dst_corrections(schedule: str, timezone: str | None) -> DstCorrections:
    """The exclusions and additions that make Temporal fire ``schedule``'s ``cron``-policy times."""
    if timezone is None:
        return DstCorrections()
    fields = parse_fields(schedule)
    zone = ZoneInfo(timezone)
    excluded: set[datetime] = set()
    added: set[int] = set()
    for change in offset_changes(timezone):
        after, until = change - _REACH, change + _REACH
        native = _native(fields, zone, after, until)
        wanted = {
            int(fire.at.timestamp())
            for fire in fire_times(
                schedule,
                timezone,
                DstPolicy.CRON,
                after=datetime.fromtimestamp(after, UTC),
                until=datetime.fromtimestamp(until, UTC),
            )
        }
        if set(native) == wanted:
            continue
        unwanted = {local_of(t, zone) for t in native if t not in wanted}
        kept = {t for t in native if local_of(t, zone) not in unwanted}
        excluded |= unwanted
        added |= wanted - kept
    return DstCorrections(
        excluded=_group(excluded),
        added=_group(datetime.fromtimestamp(t, UTC).replace(tzinfo=None) for t in added),
    )
