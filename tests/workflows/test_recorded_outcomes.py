"""Recorded outcomes: an attempt Temporal retries after losing a finished attempt's report
returns the recorded outcome instead of running the command again.

``TaskRunWorkflow`` runs on an in-process worker with the mirror double; the
executor is the real ``AttemptTracker`` on a real (SQLite) database, around a
body that counts its executions. Losing a report is what a worker cut off from
Temporal (or killed) right after an attempt finished does: the attempt stops
heartbeating and never completes, so Temporal times it out and retries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from activities import attempt as attempt_module
from activities.attempt import Attempt, AttemptTracker
from domain import failures
from domain.statuses import RunTrigger
from persistence import runs, tasks
from persistence.database import create_engine, create_sessionmaker
from persistence.migrate import migrate
from tests.in_process import sqlite_url
from tests.persistence.conftest import new_task
from tests.workflows.doubles import Mirror
from tests.workflows.harness import plan, running
from workflows.payloads import ExecuteTask, ExecutionResult, RunOutcome

pytestmark = pytest.mark.timeout(90)

# How soon Temporal gives up on a lost attempt, and also all the time its retry
# has to report (the first heartbeat comes after half of it): 1 s was too
# little for a retry on a CI machine running the suite on every core.
HEARTBEAT_TIMEOUT_SECONDS = 2.0


@dataclass
class ReportLosingShell:
    """``run_shell`` through the real tracker; the first ``lose`` reports never reach Temporal."""

    tracker: AttemptTracker
    fail: bool = False
    lose: int = 1
    executed: list[int] = field(default_factory=list)
    """The attempt number of each execution of the command (the body)."""

    async def _body(self, attempt: Attempt) -> ExecutionResult:
        self.executed.append(attempt.number)
        if self.fail:
            raise attempt.failed("exit code 3", "partial\n", kind=failures.COMMAND_FAILED)
        return attempt.succeeded("done\n")

    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        try:
            result = await self.tracker.execute(task, self._body)
        except ApplicationError:
            await self._maybe_lose()
            raise
        await self._maybe_lose()
        return result

    async def _maybe_lose(self) -> None:
        if self.lose > 0:
            self.lose -= 1
            await asyncio.sleep(3600)  # no heartbeat, no completion: Temporal times it out


@asynccontextmanager
async def recorded_run(directory: Path) -> AsyncIterator[tuple[AttemptTracker, int]]:
    """A tracker on a fresh database and the id of a run row there."""
    engine = create_engine(sqlite_url(directory))
    try:
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        task_id = await new_task(sessions, prefix="recorded")
        async with sessions() as session, session.begin():
            found = await tasks.get_task_with_dependencies(session, task_id)
            assert found is not None
            run_id = await runs.create_run(
                session,
                *found,
                workflow_id=f"wf-{uuid.uuid4().hex}",
                trigger=RunTrigger.MANUAL,
                scheduled_at=datetime.now(UTC),
            )
        yield AttemptTracker(create_sessionmaker(engine, autocommit=True), "tracker-worker"), run_id
    finally:
        await engine.dispose()


async def _run(
    temporal: tuple[str, str], directory: Path, mirror_plan: dict[str, object], **shell: object
) -> tuple[Mirror, ReportLosingShell, RunOutcome | ApplicationError]:
    async with recorded_run(directory) as (tracker, run_id):
        executor = ReportLosingShell(tracker, **shell)  # type: ignore[arg-type]
        mirror = Mirror(
            plan(
                dispatched=True,
                task_run_id=run_id,
                heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS,
                **mirror_plan,
            )
        )
        async with running(temporal, mirror, executor) as run:
            try:
                outcome: RunOutcome | ApplicationError = await run.handle.result()
            except WorkflowFailureError as failure:
                if not isinstance(failure.cause, ApplicationError):
                    raise
                outcome = failure.cause
        return mirror, executor, outcome


def test_a_success_whose_report_was_lost_is_returned_not_run_again(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    mirror, executor, outcome = asyncio.run(_run(temporal, tmp_path, {"max_retries": 2}))
    assert isinstance(outcome, RunOutcome) and outcome.status == "Completed"
    assert executor.executed == [1]
    assert mirror.final.result == "done\n"
    assert mirror.final.error_message is not None
    assert mirror.final.error_message.startswith("recovered: attempt 1 had finished")


def test_a_task_that_opts_out_runs_the_command_again(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    mirror, executor, outcome = asyncio.run(
        _run(
            temporal,
            tmp_path,
            {"max_retries": 2, "redeliver_finished": True},
        )
    )
    assert isinstance(outcome, RunOutcome) and outcome.status == "Completed"
    assert executor.executed == [1, 2]
    assert mirror.final.error_message is None


def test_a_last_attempt_failure_whose_report_was_lost_is_returned_not_run_again(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    """The lost report was the task's last attempt: the workflow's replacement for an
    attempt lost with its worker gets the recorded failure."""
    mirror, executor, outcome = asyncio.run(_run(temporal, tmp_path, {"max_retries": 0}, fail=True))
    assert isinstance(outcome, ApplicationError)
    assert executor.executed == [1]
    assert mirror.final.status == "Failed"
    assert mirror.final.error_message == (
        "exit code 3 (recovered: recorded by attempt 1, not run again)"
    )
    assert mirror.final.result == "partial\n"


def test_a_retryable_failure_is_retried_as_before(
    temporal: tuple[str, str], tmp_path: Path
) -> None:
    """A failure with retries left is run again whether or not Temporal got its report."""
    mirror, executor, outcome = asyncio.run(_run(temporal, tmp_path, {"max_retries": 1}, fail=True))
    assert isinstance(outcome, ApplicationError)
    assert executor.executed == [1, 2]
    assert mirror.final.error_message == "exit code 3"


@dataclass
class StarvedShell:
    """The first attempt's heartbeats never arrive (a starved machine) and its command
    outlasts the heartbeat timeout; Temporal retries it on this same worker meanwhile."""

    tracker: AttemptTracker
    executed: list[int] = field(default_factory=list)
    retried: asyncio.Event = field(default_factory=asyncio.Event)

    async def _body(self, attempt: Attempt) -> ExecutionResult:
        self.executed.append(attempt.number)
        await asyncio.wait_for(self.retried.wait(), 30)
        await asyncio.sleep(0.5)  # the retry is waiting now
        return attempt.succeeded("slow\n")

    @activity.defn(name="run_shell")
    async def run_shell(self, task: ExecuteTask) -> ExecutionResult:
        if activity.info().attempt > 1:
            self.retried.set()
        return await self.tracker.execute(task, self._body)


def test_a_retry_beside_a_still_running_attempt_waits_for_it_instead_of_running_again(
    temporal: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet_first = attempt_module._heartbeat_forever

    async def starved(every_seconds: float) -> None:
        if activity.info().attempt == 1:
            await asyncio.sleep(3600)  # heartbeats that never arrive
        await quiet_first(every_seconds)

    monkeypatch.setattr(attempt_module, "_heartbeat_forever", starved)

    async def main() -> tuple[Mirror, StarvedShell, RunOutcome]:
        async with recorded_run(tmp_path) as (tracker, run_id):
            executor = StarvedShell(tracker)
            starving = plan(
                dispatched=True,
                task_run_id=run_id,
                max_retries=2,
                heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_SECONDS,
            )
            mirror = Mirror(starving)
            async with running(temporal, mirror, executor) as run:
                return mirror, executor, await run.handle.result()

    mirror, executor, outcome = asyncio.run(main())
    assert outcome.status == "Completed"
    assert executor.executed == [1]
    assert mirror.final.result == "slow\n"
    assert mirror.final.error_message is not None
    assert mirror.final.error_message.startswith("recovered: attempt 1 had finished")
