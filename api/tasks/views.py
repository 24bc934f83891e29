"""Model → response body conversions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from api.tasks.schemas import (
    ExecutionStats,
    RunOut,
    StatusChangeOut,
    Subscription,
    TaskDetail,
    TaskOut,
    TaskStatsOut,
)
from domain.fire_times import DstPolicy, fire_times
from domain.tasks import OWN_FIELDS
from persistence.models import Task, TaskRun
from persistence.run_stats import TaskStats
from persistence.runs import RunRow
from persistence.status_history import StatusChange
from persistence.task_detail import TaskDetailRecord, TaskRow
from workflows.web_ui import WebUi


def next_run_at(task: Task | TaskRow, now: datetime) -> datetime | None:
    """The task's next fire time after ``now``; None while it is Inactive (or fires no more)."""
    if task.status != "Active":
        return None
    upcoming = fire_times(
        task.schedule, task.timezone, DstPolicy(task.dst_policy), after=now, count=1
    )
    return upcoming[0].at if upcoming else None


@dataclass(frozen=True)
class TaskViews:
    """Task bodies as the API shows them, with the deployment's defaults filled in."""

    default_catchup_window_seconds: int

    def task(self, task: Task | TaskRow, dependencies: list[int]) -> TaskOut:
        return task_out(task, dependencies, self.default_catchup_window_seconds)

    def detail(
        self, record: TaskDetailRecord, ui: WebUi, history: list[StatusChange]
    ) -> TaskDetail:
        return task_detail(record, ui, history, self.default_catchup_window_seconds)


def task_out(
    task: Task | TaskRow, dependencies: list[int], default_catchup_window_seconds: int
) -> TaskOut:
    """The task's view: its id, its definition (defaults filled in), timestamps, next fire."""
    own = {name: getattr(task, name) for name in OWN_FIELDS}
    if own["catchup_window_seconds"] is None:
        own["catchup_window_seconds"] = default_catchup_window_seconds
    own["notifications"] = msgspec.convert(own["notifications"] or [], list[Subscription])
    return TaskOut(
        id=task.id,
        **own,
        dependencies=dependencies,
        created_at=task.created_at,
        updated_at=task.updated_at,
        next_run_at=next_run_at(task, datetime.now(UTC)),
        paused_reason=task.paused_reason,
    )


def run_out(run: TaskRun | RunRow, ui: WebUi) -> RunOut:
    return RunOut(
        id=run.id,
        task_id=run.task_id,
        status=run.status,
        worker_id=run.worker_id,
        retry_count=run.retry_count,
        scheduled_at=run.scheduled_at,
        dispatched_at=run.dispatched_at,
        started_at=run.started_at,
        completed_at=run.completed_at,
        result=run.result,
        error_message=run.error_message,
        execution_duration_ms=run.execution_duration_ms,
        created_at=run.created_at,
        trigger=run.trigger,
        triggered_by=run.triggered_by,
        workflow_id=run.workflow_id,
        temporal_run_id=run.temporal_run_id,
        temporal_ui_url=ui.run_url(run.workflow_id, run.temporal_run_id),
    )


def stats_out(stats: TaskStats, runs_skipped: int | None, runs_missed_7d: int) -> TaskStatsOut:
    return TaskStatsOut(
        runs_skipped=runs_skipped,
        runs_missed_7d=runs_missed_7d,
        total_runs=stats.total_runs,
        successful_runs=stats.successful_runs,
        failed_runs=stats.failed_runs,
        success_rate=stats.success_rate,
        average_duration_ms=stats.average_duration_ms,
        min_duration_ms=stats.min_duration_ms,
        max_duration_ms=stats.max_duration_ms,
        last_success=stats.last_success,
        last_failure=stats.last_failure,
        runs_last_24h=stats.runs_last_24h,
        runs_last_7d=stats.runs_last_7d,
        runs_last_30d=stats.runs_last_30d,
    )


def status_change_out(change: StatusChange) -> StatusChangeOut:
    return StatusChangeOut(
        status=change.status,
        changed_at=change.changed_at,
        changed_by=change.changed_by,
        via=change.via,
    )


def task_detail(
    record: TaskDetailRecord,
    ui: WebUi,
    history: list[StatusChange],
    default_catchup_window_seconds: int,
) -> TaskDetail:
    base = task_out(record.task, record.dependencies, default_catchup_window_seconds)
    stats = record.stats
    return TaskDetail(
        **{field: getattr(base, field) for field in TaskOut.__struct_fields__},
        recent_runs=[run_out(run, ui) for run in record.recent_runs],
        execution_stats=ExecutionStats(
            total_runs=stats.total_runs,
            successful_runs=stats.successful_runs,
            failed_runs=stats.failed_runs,
            success_rate=stats.success_rate,
            average_duration_ms=stats.average_duration_ms,
            last_success=stats.last_success,
            last_failure=stats.last_failure,
        ),
        status_history=[status_change_out(change) for change in history],
    )
