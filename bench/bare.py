"""The bare limit: minimal workflows executing one activity, nothing else.

``BareCommandWorkflow`` runs ``sh -c <command>`` as a subprocess in its one
activity: the work a scheduler shell run does, with nothing of the
scheduler around it. ``bench.orchestration`` runs it on the same Temporal dev
server as the scheduler, in a worker process of its own
(``python -m bench.bare ADDRESS NAMESPACE QUEUE SLOTS``). The no-op workflows are the fire-lag
baseline's.
"""

from __future__ import annotations

import asyncio
import sys
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


@activity.defn(name="bench_run_command")
async def run_command(command: str) -> int:
    """``sh -c command`` as a child process; its exit code."""
    process = await asyncio.create_subprocess_exec("sh", "-c", command)
    return await process.wait()


@workflow.defn(name="BenchBareCommandWorkflow")
class BareCommandWorkflow:
    @workflow.run
    async def run(self, command: str) -> int:
        return await workflow.execute_activity(
            run_command, command, start_to_close_timeout=timedelta(seconds=30)
        )


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


async def serve(address: str, namespace: str, queue: str, slots: str) -> None:
    """A plain client (no codec) and one worker running ``BareCommandWorkflow`` until killed,
    with as many concurrent activities as the scheduler's executors have slots."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address, namespace=namespace)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[BareCommandWorkflow],
        activities=[run_command],
        max_concurrent_activities=int(slots),
    )
    print("bare worker polling", queue, flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(serve(*sys.argv[1:5]))
