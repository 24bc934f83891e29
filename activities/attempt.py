"""One executor attempt: its mirror write, its heartbeats, its in-flight count, its result.

Every executor (shell, http, python) runs its work through ``tracker.execute(task, body)``
so the parts common to all of them live here once: among them, recording a
finished attempt's outcome before it is reported to Temporal, and returning
that recorded outcome when Temporal retries an attempt whose report it lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.run_log import log_transition
from domain import failures
from domain.parameters import ParameterError
from domain.secret_refs import Masker
from domain.statuses import RunStatus
from persistence import attempt_outcomes, runs
from persistence.attempt_outcomes import RecordedOutcome
from persistence.types import utcnow
from processes.spawn import ProcessOutcome
from workflows.payloads import ExecuteTask, ExecutionResult

log = logging.getLogger(__name__)


@dataclass
class Attempt:
    """What an executor needs to report the outcome of the current attempt."""

    worker_id: str
    number: int
    started_at: datetime
    began: float
    mask: Masker = field(default_factory=Masker)
    """Masks the values of the secrets this attempt resolved, in all it reports."""

    def _result(self, output: str, error: str | None = None) -> ExecutionResult:
        return ExecutionResult(
            worker_id=self.worker_id,
            attempt=self.number,
            started_at=self.started_at,
            duration_ms=int((time.monotonic() - self.began) * 1000),
            output=self.mask(output),
            error=self.mask(error) if error is not None else None,
        )

    def succeeded(self, output: str) -> ExecutionResult:
        return self._result(output)

    def failed(
        self,
        reason: str,
        output: str = "",
        *,
        kind: str = failures.TASK_FAILED,
        retryable: bool = True,
    ) -> ApplicationError:
        """The error to raise: it carries the attempt's report to the workflow."""
        return ApplicationError(
            self.mask(reason), self._result(output, reason), type=kind, non_retryable=not retryable
        )

    def invalid(self, exc: ParameterError) -> ApplicationError:
        # The workflow's retry policy lists this kind as non-retryable too.
        return self.failed(
            f"{exc.field}: {exc.message}", kind=failures.INVALID_PARAMETERS, retryable=False
        )

    def from_process(self, outcome: ProcessOutcome) -> ExecutionResult:
        """Success for exit code 0 (stdout is the result); otherwise raise a retryable failure."""
        output = outcome.stdout.text()
        if outcome.exit_code == 0:
            return self.succeeded(output)
        raise self.failed(outcome.failure_reason(), output, kind=failures.COMMAND_FAILED)


async def _heartbeat_forever(every_seconds: float) -> None:
    # The first heartbeat waits one interval: the SDK sends a first heartbeat at
    # once, and for the many attempts that end within seconds that RPC (and the
    # server's write behind it) was pure overhead. Half the heartbeat timeout
    # still leaves a full half in hand.
    while True:
        await asyncio.sleep(every_seconds)
        activity.heartbeat()


AttemptBody = Callable[[Attempt], Awaitable[ExecutionResult]]
"""An executor's work for one attempt: its result, or an ``ApplicationError`` from ``Attempt``."""

# Recording an outcome is retried briefly (a database blip), never for long:
# the attempt's report to Temporal waits on it.
_RECORD_TRIES = 3
_RECORD_PAUSE_SECONDS = 0.5


def _recorded(
    task: ExecuteTask, result: ExecutionResult, error: ApplicationError | None
) -> RecordedOutcome:
    return RecordedOutcome(
        task_run_id=task.task_run_id,
        attempt=result.attempt,
        succeeded=error is None,
        output=result.output,
        error=result.error,
        failure_type=error.type if error is not None else None,
        non_retryable=error.non_retryable if error is not None else False,
        worker_id=result.worker_id,
        started_at=result.started_at,
        duration_ms=result.duration_ms,
    )


def _replayed(recorded: RecordedOutcome) -> ExecutionResult:
    return ExecutionResult(
        worker_id=recorded.worker_id,
        attempt=recorded.attempt,
        started_at=recorded.started_at,
        duration_ms=recorded.duration_ms,
        output=recorded.output,
        error=recorded.error,
        recovered_from=recorded.attempt,
    )


class AttemptTracker:
    """Shared by the executors of one worker process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self._sessions = sessions
        self.worker_id = worker_id
        self.in_flight = 0
        # Runs with an attempt executing in this process, each set once that attempt
        # has recorded its outcome (or ended without one).
        self._executing: dict[int, asyncio.Event] = {}

    async def _report_running(self, task: ExecuteTask, attempt: int, started_at: datetime) -> None:
        # Best effort by design: with the database unreachable the attempt still
        # runs, and the final mirror write carries the same worker, attempt and
        # start time, so nothing is lost.
        try:
            async with self._sessions() as session, session.begin():
                await runs.mark_running(
                    session, task.task_run_id, self.worker_id, attempt - 1, started_at
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not mark run %s Running (%s); continuing", task.task_run_id, exc)
            return
        log_transition(task.task_id, task.task_run_id, RunStatus.RUNNING)

    async def execute(self, task: ExecuteTask, body: AttemptBody) -> ExecutionResult:
        """Run one attempt of ``task`` with ``body``, recording its outcome before returning it.

        When an earlier attempt of the run recorded an outcome that ends the run
        (a success, a non-retryable failure, a failure of the task's last
        attempt), Temporal retried only because that report never reached it:
        the recorded outcome is returned (or raised) again and nothing runs.
        An earlier attempt still executing in this process (Temporal gave up on
        it because its heartbeats came late, on a starved machine) is waited
        for first, heartbeating, so its outcome is taken rather than its
        command run a second time beside it. A task with ``redeliver_finished``
        always runs.
        """
        number = activity.info().attempt + task.attempt_offset
        if not task.redeliver_finished and number > 1:
            earlier = self._executing.get(task.task_run_id)
            if earlier is not None:
                await self._heartbeat_until(earlier)
            recovered = await self._recover(task, number)
            if recovered is not None:
                return recovered
        ended = asyncio.Event()
        self._executing[task.task_run_id] = ended
        try:
            async with self.attempt(task) as attempt:
                try:
                    result = await body(attempt)
                except ApplicationError as err:
                    report = err.details[0] if err.details else None
                    if isinstance(report, ExecutionResult) and not task.redeliver_finished:
                        await self._record(_recorded(task, report, err))
                    raise
                if not task.redeliver_finished:
                    await self._record(_recorded(task, result, None))
                return result
        finally:
            ended.set()
            if self._executing.get(task.task_run_id) is ended:
                del self._executing[task.task_run_id]

    async def _heartbeat_until(self, ended: asyncio.Event) -> None:
        """Wait for ``ended`` while heartbeating, so this attempt is not given up meanwhile."""
        timeout = activity.info().heartbeat_timeout
        heartbeats = asyncio.create_task(
            _heartbeat_forever(timeout.total_seconds() / 2 if timeout else 5.0)
        )
        try:
            await ended.wait()
        finally:
            heartbeats.cancel()

    async def _record(self, outcome: RecordedOutcome) -> None:
        for tries in range(1, _RECORD_TRIES + 1):
            try:
                async with self._sessions() as session, session.begin():
                    await attempt_outcomes.record(session, outcome)
                return
            except (SQLAlchemyError, OSError) as exc:
                if tries == _RECORD_TRIES:
                    # Reported unrecorded: should that report be lost, the retry runs again.
                    log.warning(
                        "could not record the outcome of run %s attempt %s (%s); reporting anyway",
                        outcome.task_run_id,
                        outcome.attempt,
                        exc,
                    )
                    return
                await asyncio.sleep(_RECORD_PAUSE_SECONDS)

    async def _recover(self, task: ExecuteTask, number: int) -> ExecutionResult | None:
        """The recorded outcome that ends the run, returned (success) or raised (failure)."""
        try:
            async with self._sessions() as session:
                recorded = await attempt_outcomes.latest_before(session, task.task_run_id, number)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "could not read the recorded outcomes of run %s (%s); running attempt %s",
                task.task_run_id,
                exc,
                number,
            )
            return None
        if recorded is None:
            return None
        last = task.max_attempts > 0 and recorded.attempt >= task.max_attempts
        if not (recorded.succeeded or recorded.non_retryable or last):
            # A failure Temporal retries anyway: this attempt is that retry.
            return None
        log.warning(
            "run %s attempt %s: returning the outcome attempt %s recorded (%s); "
            "Temporal lost its report, the command is not run again",
            task.task_run_id,
            number,
            recorded.attempt,
            "succeeded" if recorded.succeeded else "failed",
        )
        replayed = _replayed(recorded)
        if recorded.succeeded:
            return replayed
        reason = (
            f"{recorded.error or 'failed'} (recovered: recorded by attempt "
            f"{recorded.attempt}, not run again)"
        )
        replayed.error = reason
        raise ApplicationError(
            reason, replayed, type=recorded.failure_type or failures.TASK_FAILED, non_retryable=True
        )

    @contextlib.asynccontextmanager
    async def attempt(self, task: ExecuteTask) -> AsyncIterator[Attempt]:
        """Mark the run Running, heartbeat while the body runs, count it as in flight.

        The ``Running`` write goes out beside the body, not before it (the
        work need not wait a round trip for it), and is done before the
        attempt ends, so it is recorded before the run's final state."""
        info = activity.info()
        current = Attempt(
            worker_id=self.worker_id,
            number=info.attempt + task.attempt_offset,
            started_at=utcnow(),
            began=time.monotonic(),
        )
        self.in_flight += 1
        timeout = info.heartbeat_timeout
        heartbeats = asyncio.create_task(
            _heartbeat_forever(timeout.total_seconds() / 2 if timeout else 5.0)
        )
        running = asyncio.create_task(
            self._report_running(task, current.number, current.started_at)
        )
        try:
            yield current
            await running
        except ApplicationError as err:
            if current.mask:
                # The failure's cause chain is recorded in Temporal too; a cause
                # (an HTTP error quoting a URL) may hold a secret's value.
                err.__cause__ = None
                err.__suppress_context__ = True
            raise
        except Exception as exc:
            if not current.mask:
                raise
            raise current.failed(f"{type(exc).__name__}: {exc}") from None
        finally:
            heartbeats.cancel()
            if not running.done():
                # The body failed or was cancelled: the write still lands first.
                await asyncio.shield(running)
            self.in_flight -= 1
