"""``TaskRunWorkflow``: one run of one task, from its schedule fire (or trigger) to its end.

Deterministic workflow code: it knows Temporal, the payload dataclasses and the
declarations of the activities it calls, nothing with I/O. Every database
write is a (local) activity of the orchestrator (``workflows.run_mirror``),
every piece of real work an activity on the task type's own queue
(``workflows.executors``); both are called by reference, so the type checker
sees their payload and result types.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.converter import value_to_type
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    TimeoutType,
    WorkflowAlreadyStartedError,
)
from temporalio.exceptions import (
    TimeoutError as TemporalTimeoutError,
)
from temporalio.workflow import ActivityCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import failures
    from domain.statuses import RunStatus
    from workflows import executors
    from workflows.notify import RunEndedWorkflow, run_ended_workflow_id
    from workflows.notify_payloads import RunEnded
    from workflows.payloads import (
        BeginRun,
        DependencyCheck,
        DispatchRun,
        ExecuteTask,
        ExecutionResult,
        FinishRun,
        NotifyDependents,
        RunInput,
        RunOutcome,
        RunPlan,
    )
    from workflows.run_mirror import RunMirror

SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

# Mirror writes retry until the database is back: a DB outage delays the mirror
# but loses nothing. The interval is capped so the mirror catches up promptly.
MIRROR_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
MIRROR_TIMEOUT = timedelta(seconds=30)

NON_RETRYABLE_EXECUTOR_ERRORS = [failures.INVALID_PARAMETERS]

# Patch id: finish_run itself wakes the runs waiting on a completed task (one
# local activity fewer per run); older histories keep their separate step.
FINISH_NOTIFIES = "finish-run-notifies-dependents"

# Patch id: a run whose task has notifications or an auto-pause hands its end
# to a RunEndedWorkflow; histories recorded before that do not.
HANDS_OVER_END = "run-ended-workflow"


def _scheduled_at(info: workflow.Info) -> datetime:
    """The schedule's fire time for schedule-started runs, else the workflow's start."""
    fired = info.typed_search_attributes.get(SCHEDULED_START_TIME)
    return fired if fired is not None else info.start_time


# The patches a plan with ``patches_applied`` takes as applied without asking.
# Never add to this set: a plan recorded before a new patch says
# ``patches_applied`` too, and its replay must ask ``workflow.patched`` for it.
PATCHES_IN_PLAN = frozenset({FINISH_NOTIFIES, HANDS_OVER_END})


def _patched(plan: RunPlan, patch_id: str) -> bool:
    """``workflow.patched(patch_id)``, without its marker for runs whose plan says so."""
    if plan.patches_applied and patch_id in PATCHES_IN_PLAN:
        return True
    return workflow.patched(patch_id)


def _lost_with_worker(err: ActivityError) -> bool:
    """The attempt timed out on heartbeats: its worker died or could not reach Temporal."""
    cause = err.cause
    return isinstance(cause, TemporalTimeoutError) and cause.type == TimeoutType.HEARTBEAT


def _recovered_note(result: ExecutionResult) -> str | None:
    """What a Completed run says when its outcome was recovered rather than run again."""
    if result.recovered_from is None:
        return None
    return (
        f"recovered: attempt {result.recovered_from} had finished and recorded this outcome "
        "before Temporal lost its report; the command was not run again"
    )


def _report(error: ApplicationError) -> ExecutionResult | None:
    """The attempt's report an executor failure carries, if it carries a readable one."""
    if not error.details:
        return None
    try:
        report: ExecutionResult = value_to_type(ExecutionResult, error.details[0])
    except TypeError:
        return None
    return report


@workflow.defn(name="TaskRunWorkflow")
class TaskRunWorkflow:
    """Mirror the run as it moves, wait for its dependencies, execute it with
    Temporal's retries and timeouts, and wake the runs that wait on this task."""

    def __init__(self) -> None:
        self._dependency_poke = False
        self._cancelled_by: str | None = None
        self._attempt: workflow.ActivityHandle[ExecutionResult] | None = None

    @workflow.signal(name="dependency_completed")
    def dependency_completed(self, task_id: int) -> None:
        """A task this run may wait on just completed a run: check again now."""
        self._dependency_poke = True

    @workflow.signal(name="cancel_run")
    def cancel_run(self, requested_by: str) -> None:
        """Stop the run: end a dependency wait, or cancel the executing attempt."""
        if self._cancelled_by is None:
            self._cancelled_by = requested_by
            if self._attempt is not None:
                self._attempt.cancel()

    @workflow.run
    async def run(self, inp: RunInput) -> RunOutcome:
        info = workflow.info()
        try:
            plan = await workflow.execute_local_activity_method(
                RunMirror.begin_run,
                BeginRun(
                    task_id=inp.task_id,
                    workflow_id=info.workflow_id,
                    temporal_run_id=info.run_id,
                    scheduled_at=_scheduled_at(info),
                    task_run_id=inp.task_run_id,
                ),
                start_to_close_timeout=MIRROR_TIMEOUT,
                retry_policy=MIRROR_RETRY,
            )
        except (ActivityError, ApplicationError) as err:
            # A local activity's non-retryable failure reaches the workflow as the
            # bare ApplicationError (temporalio 1.35), a remote one wrapped.
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type == failures.TASK_NOT_FOUND:
                # The task was deleted between the fire and this start.
                return RunOutcome(
                    task_run_id=inp.task_run_id, status="Skipped", details=[str(cause)]
                )
            raise
        if plan.already_finished:
            return RunOutcome(task_run_id=plan.task_run_id, status="AlreadyFinished")

        try:
            finish = await self._wait_for_dependencies(plan)
            if finish is None:
                finish = await self._execute(plan)
        except asyncio.CancelledError:
            # Cancelled from the Web UI or CLI: record it, then end as cancelled.
            await self._finish(self._ended(plan, RunStatus.FAILED, "cancelled in Temporal"))
            raise
        await self._finish(finish)
        if plan.notifies and _patched(plan, HANDS_OVER_END):
            await self._hand_over_end(plan, finish)
        if finish.status == RunStatus.COMPLETED:
            if not _patched(plan, FINISH_NOTIFIES):
                # Runs started before finish_run woke dependents itself replay this step.
                await workflow.execute_local_activity_method(
                    RunMirror.notify_dependents,
                    NotifyDependents(task_id=plan.task_id),
                    start_to_close_timeout=MIRROR_TIMEOUT,
                    retry_policy=MIRROR_RETRY,
                )
            return RunOutcome(task_run_id=plan.task_run_id, status=finish.status)
        # Fail the workflow too, so the Web UI tells the same story as the API.
        raise ApplicationError(
            f"{finish.status}: {finish.error_message or ''}".strip(),
            type=failures.run_ended(finish.status),
            non_retryable=True,
        )

    def _ended(self, plan: RunPlan, status: RunStatus, message: str) -> FinishRun:
        return FinishRun(
            task_run_id=plan.task_run_id,
            status=status,
            completed_at=workflow.now(),
            error_message=message,
            task_id=plan.task_id,
        )

    def _cancelled(self, plan: RunPlan) -> FinishRun:
        return self._ended(plan, RunStatus.FAILED, f"cancelled by {self._cancelled_by}")

    async def _wait_for_dependencies(self, plan: RunPlan) -> FinishRun | None:
        """None once every dependency is met; the final state when the run must not start."""
        if not plan.dependencies:
            return None
        deadline = workflow.now() + timedelta(seconds=plan.dependency_timeout_seconds)
        while True:
            # Reset before looking, so a completion signalled during the check is not lost.
            self._dependency_poke = False
            status = await workflow.execute_local_activity_method(
                RunMirror.check_dependencies,
                DependencyCheck(task_run_id=plan.task_run_id),
                start_to_close_timeout=MIRROR_TIMEOUT,
                retry_policy=MIRROR_RETRY,
            )
            if status.deleted:
                return self._ended(
                    plan,
                    RunStatus.FAILED,
                    f"dependency tasks {status.deleted} were deleted; this run can never start",
                )
            if not status.unmet:
                return None
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                return self._ended(
                    plan,
                    RunStatus.FAILED,
                    f"dependencies not met within {plan.dependency_timeout_seconds}s: "
                    + ", ".join(status.unmet),
                )
            if self._cancelled_by is not None:
                return self._cancelled(plan)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._dependency_poke or self._cancelled_by is not None,
                    timeout=min(remaining, plan.dependency_recheck_seconds),
                )
            if self._cancelled_by is not None:
                return self._cancelled(plan)

    async def _execute(self, plan: RunPlan) -> FinishRun:
        if self._cancelled_by is not None:
            return self._cancelled(plan)
        if plan.task_type not in executors.BY_TASK_TYPE:
            # The API accepts only known types; a row written around it cannot run.
            return self._ended(
                plan, RunStatus.FAILED, f"no executor for task type {plan.task_type!r}"
            )
        if not plan.dispatched:
            await workflow.execute_local_activity_method(
                RunMirror.mark_dispatched,
                DispatchRun(task_run_id=plan.task_run_id),
                start_to_close_timeout=MIRROR_TIMEOUT,
                retry_policy=MIRROR_RETRY,
            )
        attempts_used = 0
        lost = 0
        while True:
            # The first invocation has the task's whole retry budget; a replacement
            # for an attempt lost with its worker gets one attempt, numbered on.
            budget = plan.max_retries + 1 if attempts_used == 0 else 1
            self._attempt = self._start_attempt(plan, attempts_used, budget)
            try:
                result = await self._attempt
                break
            except ActivityError as err:
                if self._cancelled_by is not None:
                    return self._cancelled(plan)
                if _lost_with_worker(err) and lost < plan.lost_attempt_retries:
                    # The worker (or Temporal itself) went silent: that is not the
                    # task failing, so it does not spend the task's retries.
                    # Temporal gives up on an invocation only once its attempts are
                    # spent, so this one used its whole budget.
                    lost += 1
                    attempts_used += budget
                    workflow.logger.warning("attempt lost with its worker; running it again")
                    continue
                return self._failure(plan, err)
            finally:
                self._attempt = None
        return FinishRun(
            task_run_id=plan.task_run_id,
            task_id=plan.task_id,
            status=RunStatus.COMPLETED,
            completed_at=workflow.now(),
            result=result.output,
            error_message=_recovered_note(result),
            worker_id=result.worker_id,
            retry_count=result.attempt - 1,
            started_at=result.started_at,
            execution_duration_ms=result.duration_ms,
        )

    def _start_attempt(
        self, plan: RunPlan, attempts_used: int, budget: int
    ) -> workflow.ActivityHandle[ExecutionResult]:
        return workflow.start_activity_method(
            executors.BY_TASK_TYPE[plan.task_type],
            ExecuteTask(
                task_run_id=plan.task_run_id,
                task_id=plan.task_id,
                parameters=plan.parameters,
                timeout_seconds=plan.timeout_seconds,
                attempt_offset=attempts_used,
                max_attempts=plan.max_retries + 1,
                redeliver_finished=plan.redeliver_finished,
            ),
            task_queue=plan.executor_queue,
            start_to_close_timeout=timedelta(seconds=plan.timeout_seconds),
            heartbeat_timeout=timedelta(seconds=plan.heartbeat_timeout_seconds),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=plan.retry_initial_interval_seconds),
                backoff_coefficient=plan.retry_backoff_coefficient,
                maximum_interval=timedelta(seconds=plan.retry_maximum_interval_seconds),
                maximum_attempts=budget,
                non_retryable_error_types=NON_RETRYABLE_EXECUTOR_ERRORS,
            ),
            # A cancelled run is recorded only once its processes are gone.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    def _failure(self, plan: RunPlan, err: ActivityError) -> FinishRun:
        finish = FinishRun(
            task_run_id=plan.task_run_id,
            task_id=plan.task_id,
            status=RunStatus.FAILED,
            completed_at=workflow.now(),
        )
        cause = err.cause
        if isinstance(cause, TemporalTimeoutError):
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
            if report is None:
                finish.error_message = cause.message
            else:
                finish.error_message = report.error or cause.message
                finish.result = report.output or None
                finish.worker_id = report.worker_id
                finish.retry_count = report.attempt - 1
                finish.started_at = report.started_at
                finish.execution_duration_ms = report.duration_ms
        elif isinstance(cause, CancelledError):
            finish.error_message = "cancelled"
        else:
            finish.error_message = str(cause or err)
        return finish

    async def _hand_over_end(self, plan: RunPlan, finish: FinishRun) -> None:
        """Start the run's ``RunEndedWorkflow`` and leave it: the run is recorded and its
        dependents woken already, and no receiver can hold this workflow open."""
        # A duplicate start of this run (its row was finished by the first) finds it started.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                RunEndedWorkflow.run,
                RunEnded(
                    task_id=plan.task_id,
                    task_run_id=plan.task_run_id,
                    status=finish.status,
                    completed_at=finish.completed_at,
                ),
                id=run_ended_workflow_id(plan.task_run_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )

    async def _finish(self, finish: FinishRun) -> None:
        await workflow.execute_local_activity_method(
            RunMirror.finish_run,
            finish,
            start_to_close_timeout=MIRROR_TIMEOUT,
            retry_policy=MIRROR_RETRY,
        )
