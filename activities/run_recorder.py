"""Mirror writes of a run's life, run as local activities on the orchestrator."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.timestamps import parse_rfc3339
from persistence import runs
from persistence.models import Task
from settings import Settings
from workflows.payloads import BeginRun, DispatchRun, FinishRun, RunPlan, RunStatus

log = logging.getLogger(__name__)


class RunRecorder:
    """Idempotent writes: a retried call never duplicates a row or moves a run backwards."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name="begin_run")
    async def begin_run(self, start: BeginRun) -> RunPlan:
        """Create (or find) the run row and return the definition snapshot to execute."""
        async with self._sessions() as session, session.begin():
            if start.task_run_id is not None:
                run = await runs.get_run(session, start.task_run_id)
                if run is None:
                    raise ApplicationError(
                        f"run {start.task_run_id} no longer exists",
                        type="TaskNotFound",
                        non_retryable=True,
                    )
                await runs.attach_workflow_run(session, run.id, start.temporal_run_id)
            else:
                task = await session.get(Task, start.task_id)
                if task is None:
                    raise ApplicationError(
                        f"task {start.task_id} no longer exists",
                        type="TaskNotFound",
                        non_retryable=True,
                    )
                run = await runs.begin_scheduled_run(
                    session,
                    task,
                    start.workflow_id,
                    start.temporal_run_id,
                    parse_rfc3339(start.scheduled_at),
                )
            definition = run.definition
            log.info("run %s of task %s: %s", run.id, run.task_id, run.status)
            return RunPlan(
                task_run_id=run.id,
                task_id=run.task_id,
                task_type=definition["task_type"],
                parameters=definition["parameters"],
                timeout_seconds=definition["timeout_seconds"],
                max_retries=definition["max_retries"],
                executor_queue=self._settings.executor_queue(definition["task_type"]),
                heartbeat_timeout_seconds=self._settings.heartbeat_timeout_seconds,
                retry_initial_interval_seconds=self._settings.retry_initial_interval_seconds,
                retry_backoff_coefficient=self._settings.retry_backoff_coefficient,
                retry_maximum_interval_seconds=self._settings.retry_maximum_interval_seconds,
                already_finished=RunStatus(run.status).is_terminal,
            )

    @activity.defn(name="mark_dispatched")
    async def mark_dispatched(self, dispatch: DispatchRun) -> None:
        async with self._sessions() as session, session.begin():
            await runs.mark_dispatched(session, dispatch.task_run_id)

    @activity.defn(name="finish_run")
    async def finish_run(self, finish: FinishRun) -> None:
        async with self._sessions() as session, session.begin():
            recorded = await runs.finish_run(
                session,
                finish.task_run_id,
                runs.RunEnd(
                    status=RunStatus(finish.status),
                    completed_at=parse_rfc3339(finish.completed_at),
                    result=finish.result,
                    error_message=finish.error_message,
                    worker_id=finish.worker_id,
                    retry_count=finish.retry_count,
                    started_at=parse_rfc3339(finish.started_at) if finish.started_at else None,
                    execution_duration_ms=finish.execution_duration_ms,
                ),
            )
        if recorded:
            log.info("run %s: %s", finish.task_run_id, finish.status)
