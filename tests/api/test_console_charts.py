"""The System page's chart geometry and the quantiles behind the fire lag chart."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from api.console.charts import BOTTOM, HEIGHT, TOP, lag_quantiles, nice_ceiling, stacked_runs
from api.system.activity import HourActivity, histogram_quantile

START = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
PLOT = HEIGHT - TOP - BOTTOM


def hours(**by_index: HourActivity) -> list[HourActivity]:
    return [
        by_index.get(f"h{i}", HourActivity(start=START + timedelta(hours=i))) for i in range(24)
    ]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (480, 500)]
)
def test_axis_tops_are_round(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_bars_stack_final_statuses_in_proportion_to_the_busiest_hour() -> None:
    chart = stacked_runs(
        hours(
            h3=HourActivity(
                START + timedelta(hours=3), {"Completed": 6, "Failed": 2, "Timeout": 2}
            ),
            h4=HourActivity(START + timedelta(hours=4), {"Completed": 5}),
        )
    )
    assert chart.total == 15
    assert len(chart.bars) == 24
    busiest = chart.bars[3]
    assert [s.status for s in busiest.segments] == ["Completed", "Failed", "Timeout"]
    # The axis top is 10: the busiest bar fills the plot, each segment its share.
    assert [s.height for s in busiest.segments] == [
        round(PLOT * 0.6, 2),
        round(PLOT * 0.2, 2),
        round(PLOT * 0.2, 2),
    ]
    assert busiest.segments[-1].y == pytest.approx(TOP, abs=0.02)
    assert busiest.segments[0].y + busiest.segments[0].height == pytest.approx(chart.baseline)
    assert chart.bars[4].segments[0].height == round(PLOT * 0.5, 2)
    assert chart.bars[0].segments == ()
    assert chart.bars[0].title == "00:00 UTC: no runs finished"
    assert busiest.title == "03:00 UTC: 6 Completed, 2 Failed, 2 Timeout"
    assert [t.label for t in chart.ticks] == ["0", "2", "4", "6", "8", "10"]
    # Bars sit side by side, left to right, never overlapping.
    edges = [(bar.x, bar.x + bar.width) for bar in chart.bars]
    assert all(right <= next_left for (_, right), (next_left, _) in itertools.pairwise(edges))


@pytest.mark.parametrize(
    ("busiest", "labels"),
    [
        (0, ["0", "1"]),
        (1, ["0", "1"]),
        (2, ["0", "1", "2"]),
        (4, ["0", "1", "2", "3", "4", "5"]),
        (37, ["0", "10", "20", "30", "40", "50"]),
    ],
)
def test_count_axes_label_whole_numbers_only(busiest: int, labels: list[str]) -> None:
    chart = stacked_runs(hours(h0=HourActivity(START, {"Completed": busiest})))
    assert [t.label for t in chart.ticks] == labels
    assert chart.ticks[0].y == chart.baseline
    assert chart.ticks[-1].y == pytest.approx(TOP)


def test_lag_lines_break_where_an_hour_had_no_scheduled_start() -> None:
    chart = lag_quantiles(
        hours(
            h1=HourActivity(START + timedelta(hours=1), scheduled_starts=4, lag_p50=0.2, lag_p99=2),
            h2=HourActivity(START + timedelta(hours=2), scheduled_starts=4, lag_p50=0.3, lag_p99=8),
            h5=HourActivity(START + timedelta(hours=5), scheduled_starts=1, lag_p50=1, lag_p99=1),
        )
    )
    assert chart.has_data
    p50, p99 = chart.series
    assert len(p50.points) == 3
    assert len(p50.lines) == 1  # hours 1-2 join; hour 5 stands alone as a dot
    assert p50.lines[0].count(",") == 2
    # Log axis: a longer lag sits higher (smaller y), p99 above p50.
    assert p99.points[1].y < p99.points[0].y < p50.points[0].y
    assert [t.label for t in chart.ticks] == ["0.1 s", "1 s", "10 s"]
    assert chart.legend == (("p50", p50.colour), ("p99", p99.colour))


def test_an_empty_day_draws_no_lag_lines() -> None:
    chart = lag_quantiles(hours())
    assert not chart.has_data
    assert all(not series.points for series in chart.series)


def test_quantiles_interpolate_inside_a_bucket_like_prometheus() -> None:
    bounds = (1.0, 10.0, 60.0)
    # 10 observations: 4 <= 1 s, 4 more <= 10 s, 2 over 60 s.
    assert histogram_quantile(0.5, bounds, (4, 8, 8), 10) == pytest.approx(1 + 9 * 0.25)
    assert histogram_quantile(0.4, bounds, (4, 8, 8), 10) == pytest.approx(1.0)
    assert histogram_quantile(0.1, bounds, (4, 8, 8), 10) == pytest.approx(0.25)
    # Beyond the last bound the buckets can tell no more than that bound.
    assert histogram_quantile(0.99, bounds, (4, 8, 8), 10) == 60.0
    with pytest.raises(ValueError, match="no observations"):
        histogram_quantile(0.5, bounds, (0, 0, 0), 0)
