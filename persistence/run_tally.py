"""The run figures behind ``/metrics``, kept current without rescanning the history.

A finished run never changes, so its part of the figures is added once and
kept. :class:`RunTally` remembers how far up the run ids it has looked: every
run below that mark is either *folded* (finished, added to the kept figures),
*watched* (still open, or an id that was not visible when the mark moved past
it) or gone. A refresh then reads only the runs inserted since the last one
and the watched ones, so its cost follows the runs in flight, not the history.

Two consequences, both what a Prometheus counter promises: a run deleted after
it was folded (retention, a deleted task) stays counted, and the figures
start again from what the database holds when the process starts (a counter
reset, which ``rate()`` handles).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.statuses import TERMINAL_STATUSES
from persistence import system
from persistence.models import TaskRun
from persistence.system import HistogramSeries

# Binds per IN list: far below asyncpg's 32767 and SQLite's 32766.
_CHUNK = 500


@dataclass(frozen=True)
class Bounds:
    """Upper bounds of each run histogram's buckets."""

    durations: Sequence[float]
    start_lags: Sequence[float]
    dependency_waits: Sequence[float]


def _add_series(
    left: Sequence[HistogramSeries], right: Sequence[HistogramSeries]
) -> tuple[HistogramSeries, ...]:
    """The series of both, those with the same labels added up."""
    merged = {one.labels: one for one in left}
    for one in right:
        other = merged.get(one.labels)
        if other is None:
            merged[one.labels] = one
            continue
        merged[one.labels] = HistogramSeries(
            labels=one.labels,
            cumulative_counts=tuple(
                a + b for a, b in zip(other.cumulative_counts, one.cumulative_counts, strict=True)
            ),
            count=other.count + one.count,
            total=other.total + one.total,
        )
    return tuple(merged[labels] for labels in sorted(merged))


@dataclass(frozen=True)
class RunFigures:
    """Runs by status and the three run histograms, over some set of runs."""

    by_status: Mapping[str, int] = field(default_factory=dict)
    run_durations: Sequence[HistogramSeries] = ()
    start_lags: Sequence[HistogramSeries] = ()
    dependency_waits: Sequence[HistogramSeries] = ()

    def __add__(self, other: RunFigures) -> RunFigures:
        by_status = dict(self.by_status)
        for status, count in other.by_status.items():
            by_status[status] = by_status.get(status, 0) + count
        return RunFigures(
            by_status=by_status,
            run_durations=_add_series(self.run_durations, other.run_durations),
            start_lags=_add_series(self.start_lags, other.start_lags),
            dependency_waits=_add_series(self.dependency_waits, other.dependency_waits),
        )


async def run_figures(
    session: AsyncSession, bounds: Bounds, *scope: ColumnElement[bool]
) -> RunFigures:
    """The figures of the runs ``scope`` selects (every run when none), read in full."""
    return RunFigures(
        by_status=await system.runs_by_status(session, *scope),
        run_durations=await system.run_durations(session, bounds.durations, *scope),
        start_lags=await system.start_lags(session, bounds.start_lags, *scope),
        dependency_waits=await system.dependency_waits(session, bounds.dependency_waits, *scope),
    )


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


_TERMINAL = [status.value for status in TERMINAL_STATUSES]


@dataclass
class _State:
    folded: RunFigures = field(default_factory=RunFigures)
    mark: int = 1
    """Every run id below this has been looked at."""
    open: set[int] = field(default_factory=set)
    gaps: dict[int, float] = field(default_factory=dict)
    """Ids not visible when the mark passed them, with when to stop watching."""


class RunTally:
    """Run figures of the whole history, each refresh reading only what may have changed.

    :meth:`figures` must be given a session whose reads share one snapshot
    (a repeatable-read transaction on Postgres, any transaction on SQLite):
    a run that finishes between two of its statements would otherwise be
    counted twice or not at all.

    An id below the mark that was not visible when the mark passed it is an
    insert that had not committed yet, or one that rolled back. The ``gap_ids``
    ids just below the newest id are watched for ``gap_seconds``. An insert
    that commits more than ``gap_seconds`` late, or after more than ``gap_ids``
    newer runs have committed, is not counted (the scheduler's inserts are
    single short transactions).
    """

    def __init__(
        self,
        bounds: Bounds,
        *,
        gap_ids: int = 1000,
        gap_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bounds = bounds
        self._gap_ids = gap_ids
        self._gap_seconds = gap_seconds
        self._clock = clock
        self._state = _State()

    @property
    def watched(self) -> int:
        """How many ids the next refresh reads again (open runs and gaps)."""
        return len(self._state.open) + len(self._state.gaps)

    async def figures(self, session: AsyncSession) -> RunFigures:
        """The figures of every run seen since this tally was created.

        All or nothing: when a read fails, the tally is as it was before.
        """
        state = _State(
            self._state.folded, self._state.mark, set(self._state.open), dict(self._state.gaps)
        )
        await self._settle_watched(session, state)
        await self._advance(session, state)
        live = RunFigures()
        for ids in _chunks(state.open):
            live = live + await run_figures(session, self._bounds, TaskRun.id.in_(ids))
        self._state = state
        return state.folded + live

    async def _advance(self, session: AsyncSession, state: _State) -> None:
        """Fold the finished runs above the mark; watch the open ones and the gaps."""
        newest = (await session.execute(select(func.max(TaskRun.id)))).scalar_one_or_none()
        if newest is None or newest < state.mark:
            return
        span = (TaskRun.id >= state.mark, TaskRun.id <= newest)
        state.folded = state.folded + await run_figures(
            session, self._bounds, *span, TaskRun.status.in_(_TERMINAL)
        )
        gap_floor = max(state.mark, newest - self._gap_ids + 1)
        rows = await session.execute(
            select(TaskRun.id, TaskRun.status).where(
                *span, (TaskRun.id >= gap_floor) | TaskRun.status.not_in(_TERMINAL)
            )
        )
        seen: set[int] = set()
        for run_id, status in rows:
            seen.add(run_id)
            if status not in _TERMINAL:
                state.open.add(run_id)
        expires = self._clock() + self._gap_seconds
        for run_id in range(gap_floor, newest + 1):
            if run_id not in seen:
                state.gaps[run_id] = expires
        state.mark = newest + 1

    async def _settle_watched(self, session: AsyncSession, state: _State) -> None:
        """Fold the watched runs that have finished; forget those gone or expired."""
        watched = state.open | state.gaps.keys()
        if not watched:
            return
        finished: set[int] = set()
        present: set[int] = set()
        for ids in _chunks(watched):
            rows = await session.execute(
                select(TaskRun.id, TaskRun.status).where(TaskRun.id.in_(ids))
            )
            for run_id, status in rows:
                present.add(run_id)
                if status in _TERMINAL:
                    finished.add(run_id)
        for ids in _chunks(finished):
            state.folded = state.folded + await run_figures(
                session, self._bounds, TaskRun.id.in_(ids)
            )
        now = self._clock()
        for run_id in watched:
            expired = state.gaps.get(run_id, now) < now
            if run_id in present and run_id not in finished:
                state.open.add(run_id)  # a gap that has committed since is watched like any run
                state.gaps.pop(run_id, None)
            elif run_id in present or run_id in state.open or expired:
                # Folded, deleted while open, or an insert that never showed up.
                state.open.discard(run_id)
                state.gaps.pop(run_id, None)
