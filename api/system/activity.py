"""The last 24 hours hour by hour: finished runs by final status, and fire lag p50/p99."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.observability.collector import START_LAG_BUCKETS
from persistence import hourly_activity

HOURS = 24


@dataclass(frozen=True)
class HourActivity:
    start: datetime
    finished: dict[str, int] = field(default_factory=dict)
    """Runs that ended in this hour, by final status."""
    scheduled_starts: int = 0
    """Scheduled runs whose first attempt started in this hour: what the lag figures cover."""
    lag_p50: float | None = None
    lag_p99: float | None = None
    """Fire lag quantiles in seconds, estimated from the metric's buckets; None without starts."""


def histogram_quantile(
    q: float, bounds: Sequence[float], cumulative: Sequence[int], total: int
) -> float:
    """The ``q`` quantile of ``total`` bucketed observations, interpolated as Prometheus does.

    ``cumulative[i]`` counts observations ``<= bounds[i]``; those over the last
    bound are in ``total`` only, and a quantile that falls there answers the
    last bound (the most the buckets can tell).
    """
    if total <= 0:
        raise ValueError("no observations")
    rank = q * total
    lower_bound, lower_count = 0.0, 0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if count == lower_count:
                return float(bound)
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = float(bound), count
    return float(bounds[-1])


def window_start(now: datetime) -> datetime:
    """The start of the first of the ``HOURS`` hours whose last one holds ``now``."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - timedelta(hours=HOURS - 1)


class ActivityReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lag_bounds: Sequence[float] = START_LAG_BUCKETS,
    ) -> None:
        self._sessions = sessions
        self._bounds = tuple(lag_bounds)

    async def last_24_hours(self, now: datetime | None = None) -> list[HourActivity]:
        """``HOURS`` entries, oldest first; the last one is the current, partial hour."""
        since = window_start(now or datetime.now(UTC))
        until = since + timedelta(hours=HOURS)
        async with self._sessions() as session:
            counts = await hourly_activity.finished_runs_per_hour(session, since, until)
            lags = await hourly_activity.fire_lag_per_hour(session, since, until, self._bounds)
        finished: list[dict[str, int]] = [{} for _ in range(HOURS)]
        for row in counts:
            if 0 <= row.hour < HOURS:  # a row at the window's very end may round up
                finished[row.hour][row.status] = finished[row.hour].get(row.status, 0) + row.count
        lag_by_hour = {row.hour: row for row in lags if 0 <= row.hour < HOURS}
        hours = []
        for index in range(HOURS):
            lag = lag_by_hour.get(index)
            quantiles: tuple[float | None, float | None] = (None, None)
            if lag is not None and lag.count > 0:
                quantiles = (
                    histogram_quantile(0.5, self._bounds, lag.cumulative_counts, lag.count),
                    histogram_quantile(0.99, self._bounds, lag.cumulative_counts, lag.count),
                )
            hours.append(
                HourActivity(
                    start=since + timedelta(hours=index),
                    finished=finished[index],
                    scheduled_starts=lag.count if lag else 0,
                    lag_p50=quantiles[0],
                    lag_p99=quantiles[1],
                )
            )
        return hours
