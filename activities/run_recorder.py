"""Mirror writes of a run's life, run as local activities on the orchestrator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.run_log import log_transition
from domain import failures
from domain.schedule_policy import OverlapPolicy
from domain.statuses import RunStatus
from persistence import run_finish, runs
from persistence.replaced_runs import REPLACING, settle_replaced
from settings import Settings
from workflows.payloads import (
    BeginRun,
    DependencyCheck,
    DependencyStatus,
    DispatchRun,
    FinishRun,
    NotifyDependents,
    RunPlan,
)
from workflows.run_mirror import RunMirror
from workflows.task_run import TaskRunWorkflow


class RunRecorder(RunMirror):
    """The mirror writes ``TaskRunWorkflow`` declares in ``RunMirror``.

    Idempotent writes: a retried call never duplicates a row or moves a run backwards.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        client: Client | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._client = client

    @activity.defn(name="begin_run")
    async def begin_run(self, start: BeginRun) -> RunPlan:
        """Create (or find) the run row and return the definition snapshot to execute."""
        # One statement on the hot path: a triggered run's row exists (the API
        # wrote it), a schedule fire's is created here; either way a run with
        # nothing to wait for comes back already Dispatched.
        async with self._sessions() as session, session.begin():
            if start.task_run_id is not None:
                run = await runs.attach_workflow_run(
                    session, start.task_run_id, start.temporal_run_id
                )
                missing = f"run {start.task_run_id}"
            else:
                run = await runs.begin_scheduled_run(
                    session,
                    start.task_id,
                    start.workflow_id,
                    start.temporal_run_id,
                    start.scheduled_at,
                )
                missing = f"task {start.task_id}"
            if run is None:
                raise ApplicationError(
                    f"{missing} no longer exists", type=failures.TASK_NOT_FOUND, non_retryable=True
                )
            if run.created_now and run.overlap_policy in REPLACING:
                replaced = await settle_replaced(
                    session,
                    run.task_id,
                    run.id,
                    start.scheduled_at,
                    OverlapPolicy(run.overlap_policy),
                )
                if replaced is not None:
                    activity.logger.info(
                        "run %s replaced run %s (%s)", run.id, replaced, run.overlap_policy
                    )
            definition = run.definition
            if run.dispatched_now:
                log_transition(run.task_id, run.id, RunStatus.PENDING)
                log_transition(run.task_id, run.id, RunStatus.DISPATCHED)
            else:
                log_transition(run.task_id, run.id, run.status)
            return RunPlan(
                task_run_id=run.id,
                task_id=run.task_id,
                task_type=definition.task_type,
                parameters=definition.parameters,
                timeout_seconds=definition.timeout_seconds,
                max_retries=definition.max_retries,
                executor_queue=self._settings.executor_queue(definition.task_type),
                heartbeat_timeout_seconds=self._settings.heartbeat_timeout_seconds,
                retry_initial_interval_seconds=self._settings.retry_initial_interval_seconds,
                retry_backoff_coefficient=self._settings.retry_backoff_coefficient,
                retry_maximum_interval_seconds=self._settings.retry_maximum_interval_seconds,
                already_finished=RunStatus(run.status).is_terminal,
                dependencies=definition.dependencies,
                dependency_timeout_seconds=definition.dependency_timeout_seconds,
                dependency_recheck_seconds=self._settings.dependency_recheck_seconds,
                lost_attempt_retries=self._settings.lost_attempt_retries,
                dispatched=run.status != RunStatus.PENDING,
                notifies=definition.notifies,
                redeliver_finished=definition.redeliver_finished,
                patches_applied=True,
            )

    @activity.defn(name="mark_dispatched")
    async def mark_dispatched(self, dispatch: DispatchRun) -> None:
        async with self._sessions() as session, session.begin():
            task_id = await runs.mark_dispatched(session, dispatch.task_run_id)
        if task_id is not None:
            log_transition(task_id, dispatch.task_run_id, RunStatus.DISPATCHED)

    @activity.defn(name="finish_run")
    async def finish_run(self, finish: FinishRun) -> None:
        async with self._sessions() as session, session.begin():
            finished = await run_finish.finish(
                session,
                finish.task_run_id,
                runs.RunEnd(
                    status=RunStatus(finish.status),
                    completed_at=finish.completed_at,
                    result=finish.result,
                    error_message=finish.error_message,
                    worker_id=finish.worker_id,
                    retry_count=finish.retry_count,
                    started_at=finish.started_at,
                    execution_duration_ms=finish.execution_duration_ms,
                ),
                dependents_of=(
                    finish.task_id
                    if finish.task_id and finish.status == RunStatus.COMPLETED
                    else None
                ),
            )
        if finished.task_id is not None:
            log_transition(finished.task_id, finish.task_run_id, finish.status)
        # Also on a retried call: the wake-ups may not all have gone out last time.
        await self._wake(finished.waiting, finish.task_id)

    @activity.defn(name="check_dependencies")
    async def check_dependencies(self, check: DependencyCheck) -> DependencyStatus:
        async with self._sessions() as session:
            state = await runs.dependency_state(session, check.task_run_id)
        return DependencyStatus(
            unmet=[f"{name} (id {dep})" for dep, name in state.unmet], deleted=state.deleted
        )

    @activity.defn(name="notify_dependents")
    async def notify_dependents(self, notify: NotifyDependents) -> None:
        """Wake the runs waiting on this task, so they start without waiting for a re-check."""
        async with self._sessions() as session:
            workflow_ids = await runs.waiting_dependent_workflow_ids(session, notify.task_id)
        await self._wake(workflow_ids, notify.task_id)

    async def _wake(self, workflow_ids: list[str], task_id: int) -> None:
        """Signal each waiting run that ``task_id`` just completed a run."""
        if self._client is None:
            return
        for workflow_id in workflow_ids:
            try:
                await self._client.get_workflow_handle_for(TaskRunWorkflow.run, workflow_id).signal(
                    TaskRunWorkflow.dependency_completed, task_id
                )
            except RPCError as err:
                # Finished or gone in the meantime: nothing is waiting there any more.
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
