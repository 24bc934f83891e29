"""``TaskRunWorkflow``'s decisions, with its activities replaced by doubles.

Each test runs one workflow on an in-process worker against the session dev
server (real Temporal: timers, heartbeat timeouts, retries, signals, schedules)
and reads what the workflow recorded through the mirror double.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from domain.tasks import ScheduledTask
from tests.workflows.doubles import Executor, Mirror
from tests.workflows.harness import plan, running, serving
from workflows.payloads import DependencyStatus, RunOutcome
from workflows.schedules import ScheduleManager, SchedulePolicyConfig
from workflows.task_run import TaskRunWorkflow

# A workflow that never ends would hold its worker's shutdown: bound each test.
pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")
UNMET = DependencyStatus(unmet=["upstream (id 7)"])
MET = DependencyStatus()


def scenario(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test's scenario; no scenario may take a minute."""
    return asyncio.run(asyncio.wait_for(coro, 60))


async def until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.05)


async def failed_with(result: Awaitable[RunOutcome]) -> ApplicationError:
    """The workflow failed (as a run that did not complete does): its error."""
    with pytest.raises(WorkflowFailureError) as failure:
        await result
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


def test_a_run_without_dependencies_executes_once_and_completes(
    temporal: tuple[str, str],
) -> None:
    mirror, executor = Mirror(plan(dispatched=True)), Executor(["succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            return await run.handle.result()

    outcome = scenario(main())
    assert outcome.status == "Completed"
    assert mirror.events == ["begin", "finish:Completed"]
    assert mirror.final.result == "ok\n"
    assert mirror.final.retry_count == 0
    assert mirror.final.worker_id == "double-worker"


@pytest.mark.parametrize("patches_applied", [True, False])
def test_a_run_asks_for_its_patches_only_when_its_plan_predates_them(
    temporal: tuple[str, str], patches_applied: bool
) -> None:
    # Each workflow.patched call records a marker and upserts TemporalChangeVersion
    # (a visibility write per run); a plan recorded before patches_applied still asks.
    mirror = Mirror(plan(dispatched=True, patches_applied=patches_applied))
    executor = Executor(["succeed"])

    async def main() -> list[str]:
        async with running(temporal, mirror, executor) as run:
            await run.handle.result()
            history = await run.handle.fetch_history()
        return [event.WhichOneof("attributes") or "" for event in history.events]

    events = scenario(main())
    asked = "upsert_workflow_search_attributes_event_attributes" in events
    assert asked is not patches_applied, events
    assert events.count("marker_recorded_event_attributes") == (2 if patches_applied else 3)
    assert mirror.events == ["begin", "finish:Completed"]


def test_a_deleted_task_skips_the_run(temporal: tuple[str, str]) -> None:
    mirror, executor = Mirror(plan(), task_gone=True), Executor(["succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            return await run.handle.result()

    assert scenario(main()).status == "Skipped"
    assert mirror.events == ["begin"]
    assert executor.attempts == []


def test_a_run_already_finished_is_not_executed_again(temporal: tuple[str, str]) -> None:
    mirror, executor = Mirror(plan(already_finished=True)), Executor(["succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            return await run.handle.result()

    assert scenario(main()).status == "AlreadyFinished"
    assert mirror.finished == []
    assert executor.attempts == []


# -- dependencies -----------------------------------------------------------------------


def test_unmet_dependencies_fail_the_run_at_its_dependency_timeout(
    temporal: tuple[str, str],
) -> None:
    waiting = plan(dependencies=[7], dependency_timeout_seconds=2, dependency_recheck_seconds=0.5)
    mirror, executor = Mirror(waiting, dependencies=lambda _: UNMET), Executor(["succeed"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    error = scenario(main())
    assert error.type == "RunFailed"
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == "dependencies not met within 2s: upstream (id 7)"
    assert mirror.checks >= 3  # re-checked on the fallback interval while it waited
    assert executor.attempts == []
    assert "dispatched" not in mirror.events


def test_a_completion_signal_wakes_the_waiting_run(temporal: tuple[str, str]) -> None:
    # No fallback re-check and no timeout within the test: only the signal can wake it.
    waiting = plan(
        dependencies=[7], dependency_timeout_seconds=3600, dependency_recheck_seconds=3600
    )
    mirror = Mirror(waiting, dependencies=lambda checks: UNMET if checks == 0 else MET)
    executor = Executor(["succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            await until(lambda: mirror.checks == 1)
            await run.handle.signal(TaskRunWorkflow.dependency_completed, 7)
            return await run.handle.result()

    assert scenario(main()).status == "Completed"
    assert mirror.events == ["begin", "unmet", "met", "dispatched", "finish:Completed"]


def test_a_deleted_dependency_fails_the_run(temporal: tuple[str, str]) -> None:
    waiting = plan(dependencies=[7], dependency_timeout_seconds=3600)
    gone = DependencyStatus(deleted=[7])
    mirror, executor = Mirror(waiting, dependencies=lambda _: gone), Executor(["succeed"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    scenario(main())
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == (
        "dependency tasks [7] were deleted; this run can never start"
    )
    assert executor.attempts == []


# -- cancel -----------------------------------------------------------------------------


def test_cancel_while_waiting_ends_the_run_without_executing(temporal: tuple[str, str]) -> None:
    waiting = plan(
        dependencies=[7], dependency_timeout_seconds=3600, dependency_recheck_seconds=3600
    )
    mirror, executor = Mirror(waiting, dependencies=lambda _: UNMET), Executor(["succeed"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            await until(lambda: mirror.checks == 1)
            await run.handle.signal(TaskRunWorkflow.cancel_run, "bob")
            return await failed_with(run.handle.result())

    scenario(main())
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == "cancelled by bob"
    assert executor.attempts == []


def test_cancel_mid_attempt_is_recorded_once_the_attempt_has_cleaned_up(
    temporal: tuple[str, str],
) -> None:
    mirror = Mirror(plan(dispatched=True, max_retries=3))
    executor = Executor(["work"], events=mirror.events)

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            await until(executor.started.is_set)
            await run.handle.signal(TaskRunWorkflow.cancel_run, "alice")
            return await failed_with(run.handle.result())

    scenario(main())
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == "cancelled by alice"
    assert mirror.events == ["begin", "cleaned-up", "finish:Failed"]
    assert executor.attempts == [1]  # a cancelled attempt is not retried


# -- attempts lost with their worker ----------------------------------------------------------


def test_a_lost_attempt_runs_again_without_spending_the_retries(
    temporal: tuple[str, str],
) -> None:
    mirror = Mirror(plan(dispatched=True, max_retries=0, heartbeat_timeout_seconds=1.0))
    executor = Executor(["hang", "succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            return await run.handle.result()

    assert scenario(main()).status == "Completed"
    # The replacement attempt is numbered on, so retry_count still counts it.
    assert [task.attempt_offset for task in executor.invocations] == [0, 1]
    assert executor.attempts == [1, 2]
    assert mirror.final.retry_count == 1


def test_attempts_lost_beyond_the_allowance_fail_the_run(temporal: tuple[str, str]) -> None:
    lossy = plan(dispatched=True, heartbeat_timeout_seconds=1.0, lost_attempt_retries=1)
    mirror, executor = Mirror(lossy), Executor(["hang"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    scenario(main())
    assert len(executor.invocations) == 2  # the first, and the one allowed replacement
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == "worker stopped heartbeating (lost or killed)"


# -- retries and timeouts ---------------------------------------------------------------


def test_a_failing_attempt_is_retried_max_retries_times(temporal: tuple[str, str]) -> None:
    mirror, executor = Mirror(plan(dispatched=True, max_retries=2)), Executor(["fail"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    assert scenario(main()).type == "RunFailed"
    assert executor.attempts == [1, 2, 3]
    assert mirror.final.status == "Failed"
    assert mirror.final.retry_count == 2
    assert mirror.final.error_message == "exit code 3"
    assert mirror.final.result == "partial\n"  # the last attempt's report


def test_a_retry_that_succeeds_completes_the_run(temporal: tuple[str, str]) -> None:
    mirror = Mirror(plan(dispatched=True, max_retries=2))
    executor = Executor(["fail", "succeed"])

    async def main() -> RunOutcome:
        async with running(temporal, mirror, executor) as run:
            return await run.handle.result()

    assert scenario(main()).status == "Completed"
    assert executor.attempts == [1, 2]
    assert mirror.final.retry_count == 1


def test_invalid_parameters_are_not_retried(temporal: tuple[str, str]) -> None:
    mirror, executor = Mirror(plan(dispatched=True, max_retries=3)), Executor(["invalid"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    scenario(main())
    assert executor.attempts == [1]
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == "working directory does not exist"


def test_an_attempt_over_its_timeout_is_retried_then_the_run_times_out(
    temporal: tuple[str, str],
) -> None:
    mirror = Mirror(plan(dispatched=True, timeout_seconds=1, max_retries=1))
    executor = Executor(["overrun"])

    async def main() -> ApplicationError:
        async with running(temporal, mirror, executor) as run:
            return await failed_with(run.handle.result())

    assert scenario(main()).type == "RunTimeout"
    assert executor.attempts == [1, 2]
    assert mirror.final.status == "Timeout"
    assert mirror.final.error_message == "timed out after 1s on its last attempt"


# -- overlap ----------------------------------------------------------------------------


def test_a_fire_while_the_previous_run_is_open_is_skipped(temporal: tuple[str, str]) -> None:
    task_id = uuid.uuid4().int % 1_000_000 + 1_000
    mirror = Mirror(plan(task_id=task_id, dispatched=True))
    executor = Executor(["work"])

    async def main() -> int | None:
        async with serving(temporal, mirror, executor) as served:
            schedules = ScheduleManager(
                served.client,
                SchedulePolicyConfig(orchestrator_queue=served.queue, catchup_window_seconds=60),
            )
            task = ScheduledTask(task_id, f"overlap-{task_id}", "shell", "0 0 1 1 *", None, True)
            await schedules.upsert(task)
            handle = served.client.get_schedule_handle(f"task-{task_id}")
            try:
                await handle.trigger()  # the schedule's own overlap policy applies
                await until(executor.started.is_set)
                await handle.trigger()
                while not await schedules.skipped_runs(task_id):
                    await asyncio.sleep(0.1)
                return await schedules.skipped_runs(task_id)
            finally:
                await schedules.delete(task_id)

    assert scenario(main()) == 1
    assert len(executor.invocations) == 1
    assert mirror.events == ["begin"]  # the open run is still executing
