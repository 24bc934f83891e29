"""One executor attempt: its mirror write, its heartbeats, its in-flight count, its result.

Every executor (shell, http, python) runs its work inside ``tracker.attempt(task)``
so the parts common to all of them live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
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
from persistence import runs
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


class AttemptTracker:
    """Shared by the executors of one worker process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self._sessions = sessions
        self.worker_id = worker_id
        self.in_flight = 0

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

    @contextlib.asynccontextmanager
    async def attempt(self, task: ExecuteTask) -> AsyncIterator[Attempt]:
        """Mark the run Running, heartbeat while the body runs, count it as in flight."""
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
        try:
            await self._report_running(task, current.number, current.started_at)
            yield current
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
            self.in_flight -= 1
