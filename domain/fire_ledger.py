"""The fire ledger's rule: what became of each fire time a task's schedule defined.

Derived, never stored: the fire times (``domain.fire_times``) are matched
against the task's runs (their ``scheduled_at``), the intervals its
schedule-started runs were open, and its status history.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class FireOutcome(StrEnum):
    RAN = "ran"
    SKIPPED_OVERLAP = "skipped_overlap"
    SKIPPED_PAUSED = "skipped_paused"
    MISSED = "missed"
    UPCOMING = "upcoming"


OVERLAP_GRACE = timedelta(seconds=5)
"""A run counts as open this long after it completed: its workflow closes a
moment later, and Temporal weighs a fire a moment after its time."""

# Overlap policies (Temporal's) under which a fire during an open run is dropped,
# and those under which it waits for the open run to end.
_SKIPPING = frozenset({"skip", "buffer_one"})
_BUFFERING = frozenset({"buffer_one", "buffer_all"})


@dataclass(frozen=True, slots=True)
class FiredRun:
    """The run a fire time made."""

    id: int
    status: str
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenSpan:
    """When one schedule-started run of the task was open (``end`` None: still open)."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerPolicy:
    """The parts of a task's schedule policy the rule needs."""

    overlap_policy: str
    catchup_window: timedelta
    jitter: timedelta
    grace: timedelta
    """How long past its latest possible start a fire without a run waits before
    it is ``missed`` (the fire lag under load, the mirror writing its row)."""

    @property
    def settle(self) -> timedelta:
        """How long after its time a fire may still start (late by jitter, catch-up and grace)."""
        return self.catchup_window + self.jitter + self.grace


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    at: datetime
    outcome: FireOutcome
    run: FiredRun | None = None


def status_at(changes: Sequence[tuple[datetime, str]], moment: datetime) -> str | None:
    """The status in force at ``moment`` from ``(changed_at, status)`` changes, oldest first.

    Before the first change, the first change's status (the task's status at creation).
    """
    if not changes:
        return None
    index = bisect.bisect_right([changed_at for changed_at, _ in changes], moment)
    return changes[max(index - 1, 0)][1]


def classify(
    fires: Sequence[datetime],
    runs: Mapping[datetime, FiredRun],
    open_spans: Sequence[OpenSpan],
    status_changes: Sequence[tuple[datetime, str]],
    policy: LedgerPolicy,
    now: datetime,
) -> list[LedgerEntry]:
    """One entry per fire time, in order.

    ``ran``: a run has that ``scheduled_at``. ``upcoming``: the fire is in the
    future, or may still start (within its jitter and catch-up window, or
    buffered behind an open run). ``skipped_paused``: the task was
    ``Inactive`` then. ``skipped_overlap``: a schedule-started run was open
    then and the overlap policy drops such fires. ``missed``: none of these.
    """
    entries = []
    for at in fires:
        entries.append(
            LedgerEntry(at, FireOutcome.RAN, runs[at])
            if at in runs
            else LedgerEntry(at, _without_run(at, open_spans, status_changes, policy, now))
        )
    return entries


def _without_run(
    at: datetime,
    open_spans: Sequence[OpenSpan],
    status_changes: Sequence[tuple[datetime, str]],
    policy: LedgerPolicy,
    now: datetime,
) -> FireOutcome:
    if at > now:
        return FireOutcome.UPCOMING
    if status_at(status_changes, at) == "Inactive":
        return FireOutcome.SKIPPED_PAUSED
    blocking = [
        span
        for span in open_spans
        if span.start <= at and (span.end is None or at <= span.end + OVERLAP_GRACE)
    ]
    if blocking:
        still_open = any(span.end is None for span in blocking)
        if policy.overlap_policy in _BUFFERING and still_open:
            return FireOutcome.UPCOMING
        if policy.overlap_policy in _SKIPPING:
            return FireOutcome.SKIPPED_OVERLAP
    if at + policy.settle > now:
        return FireOutcome.UPCOMING
    return FireOutcome.MISSED


def late(entries: Sequence[LedgerEntry], late_after: timedelta) -> list[datetime]:
    """The fire times among ``entries`` that had not started ``late_after`` past their time.

    ``entries`` must be classified at least ``late_after`` after each fire. A
    fire is late when its run started after that, or has not started (waiting
    to be picked up, buffered behind an open run, or no run at all yet);
    fires the task's pause or overlap policy skipped are never late.
    """
    found = []
    for entry in entries:
        if entry.outcome in (FireOutcome.SKIPPED_PAUSED, FireOutcome.SKIPPED_OVERLAP):
            continue
        started = entry.run.started_at if entry.run is not None else None
        if started is None or started > entry.at + late_after:
            found.append(entry.at)
    return found
