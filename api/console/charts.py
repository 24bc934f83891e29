"""Chart geometry for server-rendered SVG: the templates only place what this computes.

The console's CSP allows no inline styles or scripts, so a chart is plain SVG
elements with coordinates and ``fill``/``stroke`` attributes, computed here
from the hourly activity; nothing is drawn in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from api.system.activity import HourActivity

WIDTH = 720.0
HEIGHT = 220.0
LEFT = 48.0
"""Room for the y axis labels."""
BOTTOM = 24.0
"""Room for the hour labels."""
TOP = 8.0

STATUS_COLOURS = (
    ("Completed", "#37b24d"),
    ("Failed", "#e03131"),
    ("Timeout", "#f76707"),
)
"""Final statuses bottom to top, with their colours (those of the status badges)."""

P50_COLOUR = "#339af0"
P99_COLOUR = "#7048e8"


@dataclass(frozen=True)
class Segment:
    status: str
    count: int
    y: float
    height: float
    colour: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    """The hour, ``HH:00`` UTC."""
    title: str
    """What a hover shows: the hour and every count."""
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class StackedBars:
    width: float
    height: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    total: int
    baseline: float
    legend: tuple[tuple[str, str], ...] = STATUS_COLOURS


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    lines: tuple[str, ...]
    """SVG ``points`` strings, one per unbroken stretch (an hour without starts breaks it)."""
    points: tuple[Point, ...]


@dataclass(frozen=True)
class LagChart:
    width: float
    height: float
    series: tuple[Series, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[tuple[float, str], ...]
    """Hour labels along the x axis: (x, ``HH:00``)."""
    baseline: float
    has_data: bool

    @property
    def legend(self) -> tuple[tuple[str, str], ...]:
        return tuple((series.name, series.colour) for series in self.series)


def _plot_height() -> float:
    return HEIGHT - TOP - BOTTOM


def _slot(index: int, count: int) -> tuple[float, float]:
    """The left edge and width of the ``index``-th of ``count`` equal slots."""
    width = (WIDTH - LEFT) / count
    return LEFT + index * width, width


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is at least ``value`` (an axis top)."""
    if value <= 1:
        return 1
    magnitude = int(10.0 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def count_step(top: int) -> int:
    """The gap between labelled counts on an axis from 0 to ``top`` (a ``nice_ceiling``).

    Whole numbers only, and at most six labels: 0-1 by 1, 0-5 by 1, 0-10 by 2, 0-50 by 10.
    """
    return top // 5 if top % 5 == 0 and top >= 10 else 1


def _hour_label(hour: HourActivity) -> str:
    return hour.start.strftime("%H:00")


def stacked_runs(hours: Sequence[HourActivity]) -> StackedBars:
    """Finished runs per hour as bars stacked by final status, on a 0-based linear axis."""
    totals = [sum(hour.finished.get(status, 0) for status, _ in STATUS_COLOURS) for hour in hours]
    top = nice_ceiling(max(totals, default=0))
    plot = _plot_height()
    baseline = TOP + plot
    bars = []
    for index, hour in enumerate(hours):
        left, width = _slot(index, len(hours))
        y = baseline
        segments = []
        for status, colour in STATUS_COLOURS:
            count = hour.finished.get(status, 0)
            if count:
                height = plot * count / top
                y -= height
                segments.append(Segment(status, count, round(y, 2), round(height, 2), colour))
        counts = ", ".join(f"{s.count} {s.status}" for s in segments) or "no runs finished"
        bars.append(
            Bar(
                x=round(left + width * 0.15, 2),
                width=round(width * 0.7, 2),
                label=_hour_label(hour),
                title=f"{_hour_label(hour)} UTC: {counts}",
                segments=tuple(segments),
            )
        )
    ticks = tuple(
        Tick(round(baseline - plot * value / top, 2), str(value))
        for value in range(0, top + 1, count_step(top))
    )
    return StackedBars(WIDTH, HEIGHT, tuple(bars), ticks, sum(totals), baseline)


LAG_TICKS = (0.1, 1.0, 10.0, 60.0, 600.0, 3600.0)


def _seconds_label(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def lag_quantiles(hours: Sequence[HourActivity]) -> LagChart:
    """Fire lag p50 and p99 per hour on a log axis (0.1 s to the largest value's decade)."""
    values = [v for hour in hours for v in (hour.lag_p50, hour.lag_p99) if v is not None]
    floor = LAG_TICKS[0]
    top = max(LAG_TICKS[2], *values) if values else LAG_TICKS[2]
    low, high = math.log10(floor), math.log10(top)
    plot = _plot_height()
    baseline = TOP + plot

    def y_of(seconds: float) -> float:
        clamped = min(max(seconds, floor), top)
        return round(baseline - plot * (math.log10(clamped) - low) / (high - low), 2)

    series = []
    for name, colour, attribute in (
        ("p50", P50_COLOUR, "lag_p50"),
        ("p99", P99_COLOUR, "lag_p99"),
    ):
        stretches: list[list[str]] = [[]]
        points = []
        for index, hour in enumerate(hours):
            left, width = _slot(index, len(hours))
            value: float | None = getattr(hour, attribute)
            if value is None:
                if stretches[-1]:
                    stretches.append([])
                continue
            x = round(left + width / 2, 2)
            y = y_of(value)
            stretches[-1].append(f"{x},{y}")
            points.append(
                Point(
                    x,
                    y,
                    f"{_hour_label(hour)} UTC: {name} {value:.2f} s "
                    f"over {hour.scheduled_starts} scheduled starts",
                )
            )
        lines = tuple(" ".join(s) for s in stretches if len(s) > 1)
        series.append(Series(name, colour, lines, tuple(points)))
    ticks = tuple(Tick(y_of(t), _seconds_label(t)) for t in LAG_TICKS if t <= top)
    labels = tuple(
        (round(_slot(i, len(hours))[0] + _slot(i, len(hours))[1] / 2, 2), _hour_label(hour))
        for i, hour in enumerate(hours)
        if i % 3 == 0
    )
    return LagChart(WIDTH, HEIGHT, tuple(series), ticks, labels, baseline, bool(values))
