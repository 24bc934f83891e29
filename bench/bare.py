"""The bare limit: a minimal workflow executing one no-op activity, nothing else.

Run by ``bench.orchestration`` on the same Temporal dev server as the
scheduler, with a Worker inside the benchmark process on its own task queue.
"""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def noop() -> None:
    """Does nothing: the cost measured is Temporal's alone."""


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))


@activity.defn(name="bench_noop_started")
async def noop_started() -> float:
    """Does nothing but say when it started (wall clock, seconds since the epoch)."""
    return time.time()


@workflow.defn(name="BenchBareStampWorkflow")
class BareStampWorkflow:
    """The bare workflow, answering when its activity started (for the fire-lag baseline)."""

    @workflow.run
    async def run(self) -> float:
        return await workflow.execute_activity(
            noop_started, start_to_close_timeout=timedelta(seconds=30)
        )
