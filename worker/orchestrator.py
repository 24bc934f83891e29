"""The orchestrator side of a worker process: TaskRunWorkflow, its mirror writes, the
notification workflows and their activities, the reconciler, the outbox relay and the
fire watch."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, UnsandboxedWorkflowRunner, Worker

from activities.fire_watch import FireWatch
from activities.notification_senders import Senders, SmtpServer
from activities.notifier import Notifier
from activities.outbox_relay import OutboxRelay
from activities.reconciler import Reconciler
from activities.run_recorder import RunRecorder
from domain.notifications import Event, fire_event_id
from persistence.fire_ledger import LedgerDefaults
from persistence.fire_reports import Report
from persistence.secret_sealing import SecretSealer
from settings import Settings
from workflows.client import register_search_attributes
from workflows.notify import NotifyWorkflow, RunEndedWorkflow, emit_event
from workflows.notify_payloads import TaskEvent
from workflows.run_starts import RunStarter
from workflows.schedules import schedule_manager
from workflows.task_run import TaskRunWorkflow


def smtp_server(settings: Settings) -> SmtpServer | None:
    """The SMTP server e-mail channels send through; None without ``SCHEDULER_SMTP_HOST``."""
    if not settings.smtp_host:
        return None
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
    )


def notifier(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> Notifier:
    """The notification activities, with this deployment's senders and schedules."""
    return Notifier(
        sessions,
        settings,
        schedule_manager(client, settings),
        SecretSealer(settings.payload_keys),
        Senders(block_private=settings.http_block_private, smtp=smtp_server(settings)),
    )


async def orchestrator_worker(
    client: Client,
    settings: Settings,
    mirror: async_sessionmaker[AsyncSession],
    notifications: Notifier,
) -> Worker:
    """The Temporal worker on the orchestrator queue; registers the search attributes first."""
    await register_search_attributes(client)
    recorder = RunRecorder(mirror, settings, client)
    return Worker(
        client,
        task_queue=settings.orchestrator_queue,
        workflows=[TaskRunWorkflow, RunEndedWorkflow, NotifyWorkflow],
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
            notifications.evaluate_run_end,
            notifications.prepare_deliveries,
            notifications.deliver_notification,
            notifications.give_up_delivery,
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


def outbox_relay(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> OutboxRelay:
    """The orchestrator's relay of the starts the API committed but did not make."""
    return OutboxRelay(
        sessions,
        RunStarter(client, settings.orchestrator_queue),
        schedule_manager(client, settings),
        grace_seconds=settings.outbox_start_timeout_seconds,
        start_timeout_seconds=settings.outbox_start_timeout_seconds,
    )


def fire_watch(
    sessions: async_sessionmaker[AsyncSession], client: Client, settings: Settings
) -> FireWatch:
    """The orchestrator's check for late and missed fires, sending each as a notification."""

    async def emit(report: Report) -> None:
        event = Event(report.event)
        await emit_event(
            client,
            settings.orchestrator_queue,
            TaskEvent(
                event=event.value,
                event_id=fire_event_id(event, report.task_id, report.fire_at),
                task_id=report.task_id,
                occurred_at=report.detected_at,
                scheduled_at=report.fire_at,
            ),
        )

    return FireWatch(sessions, emit, defaults=LedgerDefaults.of(settings))
