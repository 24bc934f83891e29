"""The fire ledger's rule (``domain.fire_ledger.classify``) on hand-made histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.fire_ledger import FiredRun, FireOutcome, LedgerPolicy, OpenSpan, classify, late

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
FIRES = [T0 + n * MINUTE for n in range(5)]
NOW = T0 + timedelta(hours=1)


def _policy(overlap: str = "skip", catchup: int = 60, jitter: int = 0) -> LedgerPolicy:
    return LedgerPolicy(
        overlap, timedelta(seconds=catchup), timedelta(seconds=jitter), timedelta(seconds=60)
    )


def _outcomes(**kwargs: object) -> list[str]:
    args: dict[str, object] = {
        "fires": FIRES,
        "runs": {},
        "open_spans": [],
        "status_changes": [(T0 - timedelta(days=1), "Active")],
        "policy": _policy(),
        "now": NOW,
    }
    args.update(kwargs)
    return [entry.outcome.value for entry in classify(**args)]  # type: ignore[arg-type]


def test_a_fire_with_its_run_ran_and_one_without_is_missed() -> None:
    runs = {FIRES[0]: FiredRun(7, "Completed"), FIRES[2]: FiredRun(8, "Failed")}
    entries = classify(FIRES[:3], runs, [], [(T0 - MINUTE, "Active")], _policy(), NOW)
    assert [(e.outcome, e.run) for e in entries] == [
        (FireOutcome.RAN, FiredRun(7, "Completed")),
        (FireOutcome.MISSED, None),
        (FireOutcome.RAN, FiredRun(8, "Failed")),
    ]


def test_fires_while_inactive_were_skipped_paused() -> None:
    changes = [
        (T0 - timedelta(days=1), "Active"),
        (T0 + timedelta(seconds=90), "Inactive"),
        (T0 + timedelta(seconds=200), "Active"),
    ]
    assert _outcomes(status_changes=changes) == [
        "missed",
        "missed",
        "skipped_paused",
        "skipped_paused",
        "missed",
    ]


def test_before_the_first_change_the_status_at_creation_holds() -> None:
    assert (
        _outcomes(status_changes=[(T0 + timedelta(hours=2), "Inactive")]) == ["skipped_paused"] * 5
    )


def test_a_fire_while_a_scheduled_run_was_open_was_skipped_overlap() -> None:
    # A run open from 09:59:30 until 10:02:03: the fires at 10:00, 10:01, 10:02
    # found it open (10:02 just: within the grace after completion).
    span = OpenSpan(T0 - timedelta(seconds=30), T0 + timedelta(minutes=2, seconds=3))
    assert _outcomes(open_spans=[span]) == [
        "skipped_overlap",
        "skipped_overlap",
        "skipped_overlap",
        "missed",
        "missed",
    ]


@pytest.mark.parametrize("policy", ["allow_all", "cancel_other", "terminate_other"])
def test_policies_that_never_skip_make_such_a_fire_missed(policy: str) -> None:
    span = OpenSpan(T0 - MINUTE, None)
    assert set(_outcomes(open_spans=[span], policy=_policy(policy))) == {"missed"}


def test_buffered_fires_behind_an_open_run_are_upcoming() -> None:
    span = OpenSpan(T0 - MINUTE, None)
    assert set(_outcomes(open_spans=[span], policy=_policy("buffer_all"))) == {"upcoming"}
    assert set(_outcomes(open_spans=[span], policy=_policy("buffer_one"))) == {"upcoming"}
    closed = OpenSpan(T0 - MINUTE, T0 + timedelta(seconds=30))
    assert _outcomes(open_spans=[closed], policy=_policy("buffer_one"))[0] == "skipped_overlap"
    assert _outcomes(open_spans=[closed], policy=_policy("buffer_all"))[0] == "missed"


def test_future_fires_and_fires_that_may_still_start_are_upcoming() -> None:
    # now = 10:02:30; catch-up 60 s, jitter 30 s, grace 60 s: a fire is missed
    # only 150 s after its time.
    now = T0 + timedelta(minutes=2, seconds=30)
    assert _outcomes(now=now, policy=_policy(catchup=60, jitter=30)) == [
        "missed",
        "upcoming",
        "upcoming",
        "upcoming",
        "upcoming",
    ]


def test_a_run_wins_over_every_other_rule() -> None:
    runs = {fire: FiredRun(n, "Running") for n, fire in enumerate(FIRES)}
    assert set(
        _outcomes(
            runs=runs,
            open_spans=[OpenSpan(T0 - MINUTE, None)],
            status_changes=[(T0 - MINUTE, "Inactive")],
        )
    ) == {"ran"}


def test_a_fire_is_late_unless_its_run_started_in_time_or_it_was_skipped() -> None:
    wait = timedelta(seconds=30)
    runs = {
        FIRES[0]: FiredRun(1, "Running", FIRES[0] + timedelta(seconds=30)),  # just in time
        FIRES[1]: FiredRun(2, "Running", FIRES[1] + timedelta(seconds=31)),  # started late
        FIRES[2]: FiredRun(3, "Dispatched"),  # not started yet
    }
    paused_from_fire_4 = [(T0 - MINUTE, "Active"), (FIRES[4] - timedelta(seconds=1), "Inactive")]
    entries = classify(FIRES, runs, [], paused_from_fire_4, _policy(), NOW)
    # FIRES[3] has no run (missed by now, late too); FIRES[4] was paused.
    assert late(entries, wait) == [FIRES[1], FIRES[2], FIRES[3]]
