"""The notification activities on the orchestrator: what a run's end raises, the
auto-pause, recording deliveries, and sending them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notification_senders import NoSmtpServer, Senders
from domain import failures
from domain.net_guard import BlockedAddress, ResolutionFailed
from domain.notification_channels import ChannelConfigError, parse_config
from domain.notifications import Event, run_event_id, tail
from domain.statuses import RunStatus, RunTrigger
from domain.tasks import RunDefinition
from persistence import notification_store, run_ends, runs, status_history, tasks
from persistence.models import NotificationChannel, Task, TaskRun
from persistence.secret_sealing import SecretSealer, SecretUnreadable
from settings import Settings
from workflows.notify_activities import NotifyActivities
from workflows.notify_payloads import (
    Deliver,
    DeliveryOutcome,
    GiveUp,
    PreparedDeliveries,
    RunEnded,
    RunEndEvents,
    TaskEvent,
)
from workflows.schedules import ScheduleManager
from workflows.web_ui import WebUi

AUTO_PAUSED_BY = "scheduler"
"""Who the status history names for an auto-pause."""

_RUN_EVENTS = {
    RunStatus.FAILED: Event.FAILURE,
    RunStatus.TIMEOUT: Event.TIMEOUT,
    RunStatus.COMPLETED: Event.SUCCESS,
}


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _subscribed(subscriptions: list[dict[str, Any]], event: str) -> list[int]:
    return [int(item["channel_id"]) for item in subscriptions if event in item.get("on", [])]


def pause_reason(count: int, task_run_id: int) -> str:
    return f"auto-paused after {count} consecutive failed scheduled runs (last: run {task_run_id})"


class Notifier(NotifyActivities):
    """Implements the activities ``workflows.notify`` declares in ``NotifyActivities``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        schedules: ScheduleManager,
        sealer: SecretSealer,
        senders: Senders,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._schedules = schedules
        self._sealer = sealer
        self._senders = senders
        self._ui = WebUi(settings.temporal_ui_url, settings.temporal_namespace)

    async def close(self) -> None:
        await self._senders.close()

    # -- a run's end ----------------------------------------------------------

    @activity.defn(name="evaluate_run_end")
    async def evaluate_run_end(self, ended: RunEnded) -> RunEndEvents:
        async with self._sessions() as session:
            run = await runs.get_run(session, ended.task_run_id)
            if run is None:
                return RunEndEvents()
            definition = RunDefinition.from_json(run.definition)
            status = RunStatus(ended.status)
            raised = [_RUN_EVENTS[status]] if status in _RUN_EVENTS else []
            if status is RunStatus.COMPLETED:
                before = await run_ends.previous_end(
                    session, run.task_id, run.id, ended.completed_at
                )
                if before in run_ends.FAILED_STATUSES:
                    raised.append(Event.RECOVERY)
            if await self._auto_pause(session, run, definition):
                raised.append(Event.AUTO_PAUSED)
        wanted = {event for item in definition.notifications for event in item.get("on", [])}
        return RunEndEvents(
            events=[
                TaskEvent(
                    event=event.value,
                    event_id=run_event_id(event, run.id),
                    task_id=run.task_id,
                    occurred_at=ended.completed_at,
                    task_run_id=run.id,
                )
                for event in raised
                if event.value in wanted
            ]
        )

    async def _auto_pause(
        self, session: AsyncSession, run: TaskRun, definition: RunDefinition
    ) -> bool:
        """Pause the task when this run completes its failure streak; True when this
        run paused it (now, or in an earlier attempt of this activity)."""
        limit = definition.pause_after_failures
        if (
            limit is None
            or run.trigger != RunTrigger.SCHEDULE
            or run.status not in run_ends.FAILED_STATUSES
        ):
            return False
        task = await tasks.get_task(session, run.task_id, for_update=True)
        if task is None:
            return False
        if task.status != "Active":
            return task.paused_reason is not None and task.paused_reason.endswith(
                f"(last: run {run.id})"
            )
        changes = await status_history.newest(session, task.id, 1)
        since = changes[0].changed_at if changes else None
        if await run_ends.failure_streak(session, task.id, since, limit) < limit:
            return False
        await self._pause(session, task, pause_reason(limit, run.id))
        activity.logger.warning("task %s auto-paused: %s", task.id, task.paused_reason)
        return True

    async def _pause(self, session: AsyncSession, task: Task, reason: str) -> None:
        """The task ``Inactive`` with ``reason``, its schedules paused: one unit, as the API's."""
        before = tasks.schedule_spec(task)
        now = datetime.now(UTC)
        task.status = "Inactive"
        task.paused_reason = reason
        task.updated_at = now
        await status_history.record(session, task.id, "Inactive", now, AUTO_PAUSED_BY, "auto_pause")
        await session.flush()
        await self._schedules.set_paused(tasks.schedule_spec(task))
        try:
            await session.commit()
        except Exception:
            await self._schedules.set_paused(before)
            raise

    # -- deliveries -------------------------------------------------------------

    @activity.defn(name="prepare_deliveries")
    async def prepare_deliveries(self, event: TaskEvent) -> PreparedDeliveries:
        async with self._sessions() as session, session.begin():
            channels, task, run = await self._audience(session, event)
            ids = await notification_store.record_event(
                session,
                event_id=event.event_id,
                event=event.event,
                task_id=task.id if task is not None else None,
                task_run_id=run.id if run is not None else None,
                channels=channels,
                body=self._body(event, task, run),
            )
        return PreparedDeliveries(
            delivery_ids=ids,
            retry_initial_interval_seconds=self._settings.notify_retry_initial_interval_seconds,
            retry_maximum_interval_seconds=self._settings.notify_retry_maximum_interval_seconds,
            retry_for_seconds=self._settings.notify_retry_hours * 3600,
            # A test answers its caller with the first attempt's outcome.
            maximum_attempts=1 if event.event == Event.TEST else 0,
        )

    async def _audience(
        self, session: AsyncSession, event: TaskEvent
    ) -> tuple[list[NotificationChannel], Task | None, TaskRun | None]:
        """The channels to deliver ``event`` to, and the task and run it is about."""
        if event.event == Event.TEST:
            channel = (
                await notification_store.get_channel(session, event.channel_id)
                if event.channel_id is not None
                else None
            )
            return ([channel] if channel is not None else []), None, None
        task = await tasks.get_task(session, event.task_id) if event.task_id is not None else None
        if task is None:
            return [], None, None
        run = await runs.get_run(session, event.task_run_id) if event.task_run_id else None
        subscriptions = (
            RunDefinition.from_json(run.definition).notifications
            if run is not None
            else (task.notifications or [])
        )
        found = await notification_store.channels_with_ids(
            session, _subscribed(subscriptions, event.event)
        )
        return list(found.values()), task, run

    def _body(self, event: TaskEvent, task: Task | None, run: TaskRun | None) -> dict[str, Any]:
        """The event as every channel carries it (the webhook's JSON body)."""
        return {
            "event": event.event,
            "event_id": event.event_id,
            "occurred_at": _text(event.occurred_at),
            "task": None
            if task is None
            else {
                "id": task.id,
                "name": task.name,
                "task_type": task.task_type,
                "schedule": task.schedule,
            },
            "run": None
            if run is None
            else {
                "id": run.id,
                "status": run.status,
                "trigger": run.trigger,
                "scheduled_at": _text(run.scheduled_at),
                "started_at": _text(run.started_at),
                "completed_at": _text(run.completed_at),
                "execution_duration_ms": run.execution_duration_ms,
                "retry_count": run.retry_count,
                "worker_id": run.worker_id,
                "error_message": run.error_message,
                "result_tail": tail(run.result),
            },
            "links": {
                "run": None if run is None else f"{self._settings.api_url}/api/task-runs/{run.id}",
                "temporal_ui": None
                if run is None
                else self._ui.run_url(run.workflow_id, run.temporal_run_id),
            },
        }

    @activity.defn(name="deliver_notification")
    async def deliver_notification(self, deliver: Deliver) -> DeliveryOutcome:
        attempt = activity.info().attempt
        async with self._sessions() as session:
            delivery = await notification_store.get_delivery(session, deliver.delivery_id)
            if delivery is None:
                raise _undeliverable(f"delivery {deliver.delivery_id} no longer exists")
            if delivery.delivered_at is not None:
                # An earlier attempt got through; its completion was lost.
                return _outcome(delivery.id, True, delivery.attempts, delivery.last_status, None)
            channel = (
                await notification_store.get_channel(session, delivery.channel_id)
                if delivery.channel_id is not None
                else None
            )
            if channel is None:
                raise _undeliverable(f"channel {delivery.channel_name!r} was deleted")
            body = delivery.body
        try:
            config = parse_config(
                channel.type,
                notification_store.stored_config(self._sealer, channel),
                block_private=self._settings.http_block_private,
            )
            sent = await self._senders.send(config, body)
        except (SecretUnreadable, ChannelConfigError, BlockedAddress, NoSmtpServer) as exc:
            await self._record(deliver.delivery_id, attempt, None, str(exc), None)
            raise _undeliverable(str(exc)) from exc
        except ResolutionFailed as exc:
            await self._record(deliver.delivery_id, attempt, None, str(exc), None)
            raise _refused(str(exc)) from exc
        delivered_at = datetime.now(UTC) if sent.ok else None
        await self._record(deliver.delivery_id, attempt, sent.status, sent.error, delivered_at)
        if not sent.ok:
            raise _refused(sent.error or "not accepted")
        return _outcome(deliver.delivery_id, True, attempt, sent.status, None)

    async def _record(
        self,
        delivery_id: int,
        attempt: int,
        status: int | None,
        error: str | None,
        delivered_at: datetime | None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            await notification_store.record_attempt(
                session,
                delivery_id,
                attempt=attempt,
                status=status,
                error=error,
                delivered_at=delivered_at,
            )

    @activity.defn(name="give_up_delivery")
    async def give_up_delivery(self, give_up: GiveUp) -> DeliveryOutcome:
        async with self._sessions() as session, session.begin():
            await notification_store.give_up(session, give_up.delivery_id, give_up.reason)
            delivery = await notification_store.get_delivery(session, give_up.delivery_id)
        if delivery is None:
            return _outcome(give_up.delivery_id, False, 0, None, give_up.reason)
        return _outcome(
            delivery.id,
            delivery.delivered_at is not None,
            delivery.attempts,
            delivery.last_status,
            delivery.last_error,
        )


def _outcome(
    delivery_id: int, delivered: bool, attempts: int, status: int | None, error: str | None
) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=delivery_id, delivered=delivered, attempts=attempts, status=status, error=error
    )


def _undeliverable(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.NOTIFICATION_UNDELIVERABLE, non_retryable=True)


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type=failures.NOTIFICATION_REFUSED)
