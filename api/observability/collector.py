"""The scheduler's own Prometheus families, read from the database at scrape time.

Names, types and labels of the contract's three families are fixed (dashboards
rely on them): ``scheduler_tasks_total`` and ``scheduler_task_runs_total`` are
counters, ``scheduler_workers_total`` a gauge. The run figures (runs by status
and the run histograms) are cumulative over every run seen since the process
started, kept by a :class:`~persistence.run_tally.RunTally`, so a refresh does
not rescan the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.observability.late_fires import LateFireTally
from api.observability.missed_fires import MissedFireTally
from domain.notifications import ChannelType, Event
from domain.statuses import RunStatus
from domain.task_types import SUPPORTED_TASK_TYPES
from persistence import notification_store, system
from persistence.notification_store import DeliveryTally
from persistence.run_tally import Bounds, RunTally
from persistence.system import HistogramSeries

log = logging.getLogger(__name__)

TASK_STATUSES = ("active", "inactive")
RUN_STATUSES = tuple(status.value.lower() for status in RunStatus)
WORKER_STATUSES = ("alive", "down")
NOTIFICATION_OUTCOMES = ("delivered", "failed_attempt", "gave_up")

# Task timeouts reach a day; dependency waits may last a week.
RUN_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)
START_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
DEPENDENCY_WAIT_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 3600, 21600, 86400, 604800)
RUN_BOUNDS = Bounds(
    durations=RUN_DURATION_BUCKETS,
    start_lags=START_LAG_BUCKETS,
    dependency_waits=DEPENDENCY_WAIT_BUCKETS,
)


@dataclass(frozen=True)
class Snapshot:
    tasks: Mapping[str, int]
    runs: Mapping[str, int]
    workers: Mapping[str, int]
    run_durations: Sequence[HistogramSeries]
    start_lags: Sequence[HistogramSeries]
    dependency_waits: Sequence[HistogramSeries]
    missed_fires: int = 0
    late_fires: int = 0
    active_tasks_by_type: Mapping[str, int] = field(default_factory=dict)
    alive_workers_by_type: Mapping[str, int] = field(default_factory=dict)
    notifications: Sequence[DeliveryTally] = ()


class DatabaseSnapshots:
    """Reads the numbers on its own timer, every ``interval_seconds``.

    ``sessions`` must read in one snapshot (see :class:`RunTally`); the run
    figures come from ``tally``, the task and worker counts from one query each.

    The timer (:meth:`start`, :meth:`close`) starts a read every
    ``interval_seconds`` whatever the scrape cadence, so a scrape answers the
    newest completed read: every change older than the interval (plus the
    read's own time) is in it. A scrape never waits for the database, except
    the first ones, which wait for the first read. A failed read is kept like
    a successful one: scrapes report the database as unreadable until a later
    read succeeds; nothing a read raises stops the timer.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tally: RunTally,
        *,
        interval_seconds: float,
        missed_fires: MissedFireTally | None = None,
        late_fires: LateFireTally | None = None,
        worker_liveness_seconds: float = 30.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._liveness = timedelta(seconds=worker_liveness_seconds)
        self._tally = tally
        self._missed = missed_fires
        self._late = late_fires
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._first_read = asyncio.Event()
        self._last: Snapshot | None = None
        self._timer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the timer on the running loop (its first read at once)."""
        if self._timer is None:
            self._timer = asyncio.create_task(self._refresh_forever(), name="metrics-refresh")

    async def close(self) -> None:
        """Stop the timer, a read under way included (the app is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    async def current(self) -> Snapshot | None:
        """The latest numbers, or None while the database cannot be read."""
        if self._timer is None:
            raise RuntimeError("DatabaseSnapshots.start() was not called")
        await self._first_read.wait()
        return self._last

    async def _refresh_forever(self) -> None:
        # Reads start at a fixed rate: one every interval, or back to back
        # when a read takes longer than that.
        while True:
            started = time.monotonic()
            try:
                self._last = await self._read_or_none()
            except Exception:  # never let the timer die: report unreadable, try again
                log.exception("metrics: refresh failed")
                self._last = None
            self._first_read.set()
            await asyncio.sleep(max(0.0, started + self._interval - time.monotonic()))

    async def _read_or_none(self) -> Snapshot | None:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._read()
        except Exception as exc:  # any failure: report the database as unreadable
            log.warning("metrics: cannot read the database: %s", exc)
            return None

    async def _read(self) -> Snapshot:
        async with self._sessions() as session:
            now = datetime.now(UTC)
            runs = await self._tally.figures(session)
            missed = await self._missed.update(session, now) if self._missed is not None else 0
            late = await self._late.update(session) if self._late is not None else 0
            return Snapshot(
                tasks=await system.tasks_by_status(session),
                runs=runs.by_status,
                workers=await system.workers_by_status(session),
                run_durations=runs.run_durations,
                start_lags=runs.start_lags,
                dependency_waits=runs.dependency_waits,
                missed_fires=missed,
                late_fires=late,
                active_tasks_by_type=await system.active_tasks_by_type(session),
                alive_workers_by_type=await system.alive_workers_by_type(
                    session, now, self._liveness
                ),
                notifications=await notification_store.delivery_tally(session),
            )


def _by_label(
    family: CounterMetricFamily | GaugeMetricFamily,
    counts: Mapping[str, int],
    known: Sequence[str],
) -> CounterMetricFamily | GaugeMetricFamily:
    """Every known value of the label (0 when absent) and any other the database has, lowercased."""
    lowered: dict[str, int] = dict.fromkeys(known, 0)
    for status, count in counts.items():
        lowered[status.lower()] = lowered.get(status.lower(), 0) + count
    for status, count in lowered.items():
        family.add_metric([status], count)
    return family


def _notifications(tallies: Sequence[DeliveryTally]) -> CounterMetricFamily:
    """Every channel type, event and outcome (0 until one happens), so an alert's
    ``increase()`` sees the first one too."""
    counts = {
        (kind.value, event.value, outcome): 0
        for kind in ChannelType
        for event in Event
        for outcome in NOTIFICATION_OUTCOMES
    }
    for tally in tallies:
        for outcome, count in zip(
            NOTIFICATION_OUTCOMES,
            (tally.delivered, tally.failed_attempts, tally.gave_up),
            strict=True,
        ):
            key = (tally.channel_type, tally.event, outcome)
            counts[key] = counts.get(key, 0) + count
    family = CounterMetricFamily(
        "scheduler_notifications_total",
        "Notification deliveries made (delivered), attempts the receiver did not accept "
        "(failed_attempt) and deliveries whose retries ran out (gave_up), by channel type "
        "and event, as the deliveries in the database record them",
        labels=["channel_type", "event", "outcome"],
    )
    for labels, count in sorted(counts.items()):
        family.add_metric(list(labels), count)
    return family


def _histogram(
    name: str,
    documentation: str,
    labels: Sequence[str],
    bounds: Sequence[float],
    series: Sequence[HistogramSeries],
    lower_last_label: bool = False,
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=list(labels))
    for one in series:
        values = list(one.labels)
        if lower_last_label:
            values[-1] = values[-1].lower()
        buckets = [
            (str(float(bound)), float(count))
            for bound, count in zip(bounds, one.cumulative_counts, strict=True)
        ]
        buckets.append(("+Inf", float(one.count)))
        family.add_metric(values, buckets, sum_value=one.total)
    return family


class SchedulerCollector(Collector):
    """Turns the latest :class:`Snapshot` into metric families."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None

    def show(self, snapshot: Snapshot | None) -> None:
        """What the next ``collect()`` reports (None: the database could not be read)."""
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        up = GaugeMetricFamily(
            "scheduler_database_up",
            "1 when the latest read of the scheduler's numbers from the database succeeded, "
            "else 0 (the families read from it are then left out)",
        )
        up.add_metric([], 1 if snapshot is not None else 0)
        yield up
        if snapshot is None:
            return
        yield _by_label(
            CounterMetricFamily(
                "scheduler_tasks_total", "Total number of tasks", labels=["status"]
            ),
            snapshot.tasks,
            TASK_STATUSES,
        )
        yield _by_label(
            CounterMetricFamily(
                "scheduler_task_runs_total", "Total number of task runs", labels=["status"]
            ),
            snapshot.runs,
            RUN_STATUSES,
        )
        yield _by_label(
            GaugeMetricFamily(
                "scheduler_workers_total", "Total number of workers", labels=["status"]
            ),
            snapshot.workers,
            WORKER_STATUSES,
        )
        yield _histogram(
            "scheduler_task_run_duration_seconds",
            "Execution seconds of finished runs (their final attempt), "
            "by task type and final status",
            ("task_type", "status"),
            RUN_DURATION_BUCKETS,
            snapshot.run_durations,
            lower_last_label=True,
        )
        yield _histogram(
            "scheduler_task_run_start_lag_seconds",
            "Schedule fire lag: seconds from a run's scheduled time (fire or trigger time) "
            "to the start of its first attempt, by trigger (schedule or manual)",
            ("trigger",),
            START_LAG_BUCKETS,
            snapshot.start_lags,
        )
        missed = CounterMetricFamily(
            "scheduler_task_fires_missed_total",
            "Schedule fires that never ran and were neither paused nor skipped for overlap "
            "(the fire ledger's missed), counted as they settle since this process started",
        )
        missed.add_metric([], snapshot.missed_fires)
        yield missed
        late = CounterMetricFamily(
            "scheduler_task_fires_late_total",
            "Schedule fires not started late_after_seconds after their time (tasks that set it), "
            "as the orchestrator's fire watch reported them, since this process started",
        )
        late.add_metric([], snapshot.late_fires)
        yield late
        yield _by_label(
            GaugeMetricFamily(
                "scheduler_active_tasks",
                "Active tasks by task type",
                labels=["task_type"],
            ),
            snapshot.active_tasks_by_type,
            SUPPORTED_TASK_TYPES,
        )
        yield _by_label(
            GaugeMetricFamily(
                "scheduler_alive_workers",
                "Alive workers (heartbeat within the liveness window) by task type they serve; "
                "a worker serving several types counts in each",
                labels=["task_type"],
            ),
            snapshot.alive_workers_by_type,
            SUPPORTED_TASK_TYPES,
        )
        yield _notifications(snapshot.notifications)
        yield _histogram(
            "scheduler_task_run_dependency_wait_seconds",
            "Seconds runs with dependencies waited for them: from the run's creation "
            "until it was dispatched, or until it ended without starting",
            (),
            DEPENDENCY_WAIT_BUCKETS,
            snapshot.dependency_waits,
        )
