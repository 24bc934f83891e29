"""The orchestrator side of a worker process: TaskRunWorkflow, its mirror writes, the reconciler."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, UnsandboxedWorkflowRunner, Worker

from activities.reconciler import Reconciler
from activities.run_recorder import RunRecorder
from settings import Settings
from workflows.client import register_search_attributes
from workflows.schedules import schedule_manager
from workflows.task_run import TaskRunWorkflow


async def orchestrator_worker(
    client: Client, settings: Settings, mirror: async_sessionmaker[AsyncSession]
) -> Worker:
    """The Temporal worker on the orchestrator queue; registers the search attributes first."""
    await register_search_attributes(client)
    recorder = RunRecorder(mirror, settings, client)
    return Worker(
        client,
        task_queue=settings.orchestrator_queue,
        workflows=[TaskRunWorkflow],
        # The sandbox re-imported the workflow module for every run, a quarter
        # of the orchestrator's CPU per run. The workflow is small and fixed;
        # tests/test_replay.py and tests/test_replay_recorded.py replay real
        # histories under the sandbox, so its determinism checks still hold.
        workflow_runner=UnsandboxedWorkflowRunner(),
        activities=[
            recorder.begin_run,
            recorder.mark_dispatched,
            recorder.finish_run,
            recorder.check_dependencies,
            recorder.notify_dependents,
        ],
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_drain_seconds),
        # A minute boundary starts every task on that cron at once; a fixed
        # five pollers (one of them for new workflows) fetched those first
        # workflow tasks one round trip at a time.
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
    )


def reconciler(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> Reconciler:
    """The orchestrator's periodic repair job, with this deployment's windows."""
    return Reconciler(
        sessions,
        client,
        schedule_manager(client, settings),
        settle_seconds=settings.reconcile_settle_seconds,
        worker_liveness_seconds=settings.worker_liveness_seconds,
        run_retention_days=settings.run_retention_days,
    )
