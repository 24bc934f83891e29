"""``TaskRunWorkflow``: one run of one task, from its schedule fire (or trigger) to its end.

Deterministic workflow code: it knows Temporal and the payload dataclasses only.
Every database write is a (local) activity of the orchestrator, every piece of
real work an activity on the task type's own queue.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutError,
    TimeoutType,
)

with workflow.unsafe.imports_passed_through():
    from workflows.payloads import (
        BeginRun,
        DispatchRun,
        ExecuteTask,
        ExecutionResult,
        FinishRun,
        RunInput,
        RunOutcome,
        RunPlan,
        RunStatus,
    )

SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

# Mirror writes retry until the database is back: a DB outage delays the mirror
# but loses nothing. The interval is capped so the mirror catches up promptly.
MIRROR_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
MIRROR_TIMEOUT = timedelta(seconds=30)

NON_RETRYABLE_EXECUTOR_ERRORS = ["InvalidParameters"]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _scheduled_at(info: workflow.Info) -> str:
    """The schedule's fire time for schedule-started runs, else the workflow's start."""
    fired = info.typed_search_attributes.get(SCHEDULED_START_TIME)
    return _rfc3339(fired if fired is not None else info.start_time)


def _report(error: ApplicationError) -> dict[str, Any]:
    if error.details and isinstance(error.details[0], dict):
        return error.details[0]
    return {}


@workflow.defn(name="TaskRunWorkflow")
class TaskRunWorkflow:
    """Mirror the run as it moves, execute it with Temporal's retries and timeouts."""

    @workflow.run
    async def run(self, inp: RunInput) -> RunOutcome:
        info = workflow.info()
        try:
            plan: RunPlan = await workflow.execute_local_activity(
                "begin_run",
                BeginRun(
                    task_id=inp.task_id,
                    workflow_id=info.workflow_id,
                    temporal_run_id=info.run_id,
                    scheduled_at=_scheduled_at(info),
                    task_run_id=inp.task_run_id,
                ),
                result_type=RunPlan,
                start_to_close_timeout=MIRROR_TIMEOUT,
                retry_policy=MIRROR_RETRY,
            )
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == "TaskNotFound":
                # The task was deleted between the fire and this start.
                return RunOutcome(
                    task_run_id=inp.task_run_id, status="Skipped", details=[str(err.cause)]
                )
            raise
        if plan.already_finished:
            return RunOutcome(task_run_id=plan.task_run_id, status="AlreadyFinished")

        finish = await self._execute(plan)
        await self._finish(finish)
        if finish.status != RunStatus.COMPLETED:
            # Fail the workflow too, so the Web UI tells the same story as the API.
            raise ApplicationError(
                f"{finish.status}: {finish.error_message or ''}".strip(),
                type=f"Run{finish.status}",
                non_retryable=True,
            )
        return RunOutcome(task_run_id=plan.task_run_id, status=finish.status)

    async def _execute(self, plan: RunPlan) -> FinishRun:
        await workflow.execute_local_activity(
            "mark_dispatched",
            DispatchRun(task_run_id=plan.task_run_id),
            start_to_close_timeout=MIRROR_TIMEOUT,
            retry_policy=MIRROR_RETRY,
        )
        try:
            result: ExecutionResult = await workflow.execute_activity(
                f"run_{plan.task_type}",
                ExecuteTask(
                    task_run_id=plan.task_run_id,
                    task_id=plan.task_id,
                    parameters=plan.parameters,
                    timeout_seconds=plan.timeout_seconds,
                ),
                result_type=ExecutionResult,
                task_queue=plan.executor_queue,
                start_to_close_timeout=timedelta(seconds=plan.timeout_seconds),
                heartbeat_timeout=timedelta(seconds=plan.heartbeat_timeout_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=plan.retry_initial_interval_seconds),
                    backoff_coefficient=plan.retry_backoff_coefficient,
                    maximum_interval=timedelta(seconds=plan.retry_maximum_interval_seconds),
                    maximum_attempts=plan.max_retries + 1,
                    non_retryable_error_types=NON_RETRYABLE_EXECUTOR_ERRORS,
                ),
            )
        except ActivityError as err:
            return self._failure(plan, err)
        except asyncio.CancelledError:
            # The run was cancelled (API, Web UI or CLI): record it, then let
            # the workflow end as cancelled.
            await self._finish(
                FinishRun(
                    task_run_id=plan.task_run_id,
                    status=RunStatus.FAILED,
                    completed_at=_rfc3339(workflow.now()),
                    error_message="cancelled",
                )
            )
            raise
        return FinishRun(
            task_run_id=plan.task_run_id,
            status=RunStatus.COMPLETED,
            completed_at=_rfc3339(workflow.now()),
            result=result.output,
            worker_id=result.worker_id,
            retry_count=result.attempt - 1,
            started_at=result.started_at,
            execution_duration_ms=result.duration_ms,
        )

    def _failure(self, plan: RunPlan, err: ActivityError) -> FinishRun:
        finish = FinishRun(
            task_run_id=plan.task_run_id,
            status=RunStatus.FAILED,
            completed_at=_rfc3339(workflow.now()),
        )
        cause = err.cause
        if isinstance(cause, TimeoutError):
            if cause.type == TimeoutType.START_TO_CLOSE:
                finish.status = RunStatus.TIMEOUT
                finish.error_message = (
                    f"timed out after {plan.timeout_seconds}s on its last attempt"
                )
            elif cause.type == TimeoutType.HEARTBEAT:
                finish.error_message = "worker stopped heartbeating (lost or killed)"
            else:
                finish.error_message = f"activity timeout: {cause.type}"
        elif isinstance(cause, ApplicationError):
            report = _report(cause)
            finish.error_message = str(report.get("error") or cause.message)
            finish.result = report.get("output") or None
            finish.worker_id = report.get("worker_id")
            attempt = report.get("attempt")
            finish.retry_count = attempt - 1 if isinstance(attempt, int) else None
            finish.started_at = report.get("started_at")
            finish.execution_duration_ms = report.get("duration_ms")
        elif isinstance(cause, CancelledError):
            finish.error_message = "cancelled"
        else:
            finish.error_message = str(cause or err)
        return finish

    async def _finish(self, finish: FinishRun) -> None:
        await workflow.execute_local_activity(
            "finish_run",
            finish,
            start_to_close_timeout=MIRROR_TIMEOUT,
            retry_policy=MIRROR_RETRY,
        )
