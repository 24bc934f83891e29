"""A short soak (``bench/soak.py``): every fault in turn under scheduled and triggered load,
then nothing lost, doubled, phantom or disagreeing, and triggers accepted while Temporal
was down."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.soak import SoakPlan, run_soak
from tests.conftest import POSTGRES_URL


def test_a_short_soak_loses_doubles_and_phantoms_nothing() -> None:
    if not POSTGRES_URL:
        pytest.skip("needs Postgres (SCHEDULER_TEST_DATABASE_URL): the soak cuts its connection")
    # The load starts once a minute boundary (the tasks' fire) is due well inside it.
    plan = SoakPlan.spread(40.0, scheduled_tasks=4, trigger_interval_seconds=0.5)
    report = run_soak(
        replace(plan, chain_length=2, drain_seconds=60, fire_margin_seconds=15), POSTGRES_URL
    )
    summary = "\n".join([*report.lines(), f"examples: {report.examples}"])
    print(summary)
    assert report.clean, summary
    assert report.fires_due >= 4, summary
    assert report.fires_with_one_run + report.fires_skipped_overlap == report.fires_due, summary
    assert report.triggers_accepted > 0 and report.triggers_not_completed == 0, summary
    # Nothing but the database refuses a trigger: Temporal's outage costs none.
    assert report.availability["temporal"] == 1.0, summary
    assert report.availability["orchestrator"] == 1.0, summary
    assert report.availability["worker"] == 1.0, summary
