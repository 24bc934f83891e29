"""Waiting for a run to end: a database notification, else a long poll on its workflow in
Temporal; then one mirror read.

On Postgres the run's end is announced when its final row commits
(``persistence.run_end_listener``): the wait is a future that the API's one
listening connection resolves, and the answer goes out as soon as the row is
final, without asking Temporal anything. When the listener cannot vouch for
the run (SQLite, or its connection was lost since the run was last seen
open), the wait falls back to Temporal.

In Temporal: a run's workflow writes its final mirror row (``finish_run``)
before it closes, so once Temporal reports the workflow closed, the row read
next is final. The wait holds no database connection and makes no request of
its own while the run goes on: it is one long poll of the workflow's close
event (``WorkflowHandle.result``), which the server answers when the workflow
closes (or re-arms every 20 s or so, which the SDK follows). Two cases fall
back to a bounded re-read of the row, backing off to ``MAX_RECHECK_SECONDS``:

- the workflow does not exist (yet): a trigger whose workflow is still to be
  started, e.g. from an outbox, or Temporal unreachable;
- the workflow closed and the row is still open: it was terminated in
  Temporal, and the reconciler settles the row.

When the API is told to stop, ``stop()`` ends every open wait at once: each
answers its run as it is then (as a wait whose time passed), so a shutdown
never holds for the waits nor cuts them off unanswered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import run_not_found
from api.tasks.schemas import RunOut
from api.tasks.views import run_out
from domain.statuses import RunStatus
from persistence import runs
from persistence.run_end_listener import RunEndListener
from persistence.runs import RunRow
from workflows.web_ui import WebUi

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 300
FIRST_RECHECK_SECONDS = 0.05
MAX_RECHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Waited:
    run: RunOut
    finished: bool
    """False: the time passed (or the client left) with the run still open."""


class RunWaiter:
    """Holds callers until a run is terminal or their time passes; counts the open waits."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        ui: WebUi,
        ends: RunEndListener | None = None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._ui = ui
        self._ends = ends
        self.open = 0
        """Waits in progress in this process (the ``scheduler_run_waits_open`` gauge)."""
        self._holds: set[asyncio.Timeout] = set()
        self._stopping = False

    def stop(self) -> None:
        """End every open wait now, and every later one at once: the process is stopping."""
        self._stopping = True
        now = asyncio.get_running_loop().time()
        for hold in self._holds:
            hold.reschedule(now)

    def listening(self) -> int | None:
        """Take before creating a run that will be waited on: ``wait``'s ``since``."""
        return self._ends.token() if self._ends is not None else None

    async def wait(
        self,
        run_id: int,
        seconds: float,
        workflow_id: str | None = None,
        since: int | None = None,
    ) -> Waited:
        """The run once it is terminal, or as it is after ``seconds``.

        ``workflow_id`` (a run just triggered, known to be open) spares the
        first read of the row; ``since``, what ``listening()`` said before that
        run was created, lets its end be heard from the database. 404
        ``TASK_RUN_NOT_FOUND`` when there is no such run (or it is deleted
        while waited on). Cancelling the caller ends the wait at once.
        """
        deadline = time.monotonic() + seconds
        if workflow_id is None:
            since = self.listening()
            run = await self._read(run_id)
            if RunStatus(run.status).is_terminal:
                return Waited(run_out(run, self._ui), finished=True)
            workflow_id = run.workflow_id
        self.open += 1
        # Expires only when ``stop`` says so; the wait's own deadline is kept inside.
        hold = asyncio.timeout(None)
        self._holds.add(hold)
        try:
            async with hold:
                if self._stopping:
                    hold.reschedule(asyncio.get_running_loop().time())
                ended = await self._until_announced(run_id, since, deadline)
                if ended is None:
                    ended = await self._until_terminal(run_id, workflow_id, deadline)
        except TimeoutError:
            if not hold.expired():
                raise
            ended = await self._read(run_id)
        finally:
            self._holds.discard(hold)
            self.open -= 1
        return Waited(run_out(ended, self._ui), finished=RunStatus(ended.status).is_terminal)

    async def _until_announced(
        self, run_id: int, since: int | None, deadline: float
    ) -> RunRow | None:
        """The run once the database announced its end, or as it is at ``deadline``;
        None when the listener cannot tell (the caller asks Temporal instead)."""
        if self._ends is None:
            return None
        ended = self._ends.watch(run_id, since)
        if ended is None:
            return None
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                announced = await ended
        except TimeoutError:
            return await self._read(run_id)
        finally:
            self._ends.unwatch(run_id, ended)
        if not announced:
            return None  # the listener lost its connection
        run = await self._read(run_id)
        # Announced means the final row is committed; should it look open, ask Temporal.
        return run if RunStatus(run.status).is_terminal else None

    async def _until_terminal(self, run_id: int, workflow_id: str, deadline: float) -> RunRow:
        recheck = FIRST_RECHECK_SECONDS
        while True:
            closed = await self._workflow_closed(workflow_id, deadline - time.monotonic())
            run = await self._read(run_id)
            if RunStatus(run.status).is_terminal or closed is None:
                return run
            # No workflow (yet), or one closed without a final row: look again soon.
            pause = min(recheck, deadline - time.monotonic())
            if pause <= 0:
                return run
            await asyncio.sleep(pause)
            recheck = min(recheck * 2, MAX_RECHECK_SECONDS)
            if time.monotonic() >= deadline:
                return await self._read(run_id)

    async def _workflow_closed(self, workflow_id: str, within: float) -> bool | None:
        """True once the workflow has closed, False when it cannot be watched (not found,
        Temporal unreachable), None when ``within`` seconds passed first."""
        if within <= 0:
            return None
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            async with asyncio.timeout(within):
                await handle.result(follow_runs=True)
        except TimeoutError:
            return None
        except WorkflowFailureError:
            return True  # failed, cancelled or terminated: closed all the same
        except (RPCError, RuntimeError) as err:
            # Not found (yet), or Temporal unreachable (the client, connected lazily,
            # raises RuntimeError until it reaches it): the caller re-reads the row.
            # Debug only: during an outage every open wait lands here every 2 s.
            if not (isinstance(err, RPCError) and err.status == RPCStatusCode.NOT_FOUND):
                log.debug("cannot watch workflow %s in Temporal: %s", workflow_id, err)
            return False
        return True

    async def _read(self, run_id: int) -> RunRow:
        async with self._sessions() as session:
            run = await runs.get_run_row(session, run_id)
        if run is None:
            raise run_not_found(run_id)
        return run
