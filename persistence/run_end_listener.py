"""Run ends as Postgres announces them: one ``LISTEN`` connection that wakes the waiters of a run.

A trigger on ``task_runs`` (migration 0014) sends ``NOTIFY scheduler_run_ended``
with the run's id when a run's status becomes terminal or an open run's row is
deleted, as the writing transaction commits. One connection per process
listens and resolves the futures of the waiters of that run; a waiter costs a
future and a dict entry, nothing while it waits.

The listener can only vouch for notifications sent while its connection was
up: a waiter takes a ``token()`` before it last saw the run open, and
``watch()`` refuses it (None) when the connection was lost since. When the
connection drops, every watched future resolves False: those waiters must
look some other way. SQLite has no notifications: the listener never listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHANNEL = "scheduler_run_ended"
APPLICATION_NAME = "scheduler-run-end-listener"
"""How the listening connection names itself to the server (``pg_stat_activity``)."""

# Runs seen ending, for a waiter that starts watching just after the
# notification arrived (while it read the row, or while its trigger started
# the workflow): far more than end within such a window.
_RECENT_ENDS = 10_000
_PING_SECONDS = 30.0
_PING_TIMEOUT_SECONDS = 5.0
_CONNECT_TIMEOUT_SECONDS = 5.0
_FIRST_RETRY_SECONDS = 0.5
_MAX_RETRY_SECONDS = 5.0


class RunEndListener:
    """Resolves ``watch()`` futures as Postgres announces run ends; see the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.supported = engine.dialect.name == "postgresql"
        self._generation = 0
        self._up = False
        self._waiters: dict[int, set[asyncio.Future[bool]]] = {}
        self._ended: OrderedDict[int, None] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def token(self) -> int | None:
        """Names the current connection; None while not listening."""
        return self._generation if self._up else None

    def watch(self, run_id: int, token: int | None) -> asyncio.Future[bool] | None:
        """A future that becomes True once ``run_id`` has ended, False if the
        listener loses its connection first; None when it cannot tell, because it
        has not listened all the time since ``token`` was taken. ``unwatch`` it after."""
        if token is None or not self._up or token != self._generation:
            return None
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if run_id in self._ended:
            future.set_result(True)
        else:
            self._waiters.setdefault(run_id, set()).add(future)
        return future

    def unwatch(self, run_id: int, future: asyncio.Future[bool]) -> None:
        """Forget a ``watch`` future (resolved or not)."""
        futures = self._waiters.get(run_id)
        if futures is not None:
            futures.discard(future)
            if not futures:
                del self._waiters[run_id]

    @property
    def watched(self) -> int:
        """Futures waiting for a run to end."""
        return sum(len(futures) for futures in self._waiters.values())

    def start(self) -> None:
        """Listen in the background (on Postgres), reconnecting whenever the connection drops."""
        if self.supported and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="run-end-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _notified(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            run_id = int(payload)
        except ValueError:
            return
        self._ended[run_id] = None
        self._ended.move_to_end(run_id)
        while len(self._ended) > _RECENT_ENDS:
            self._ended.popitem(last=False)
        for future in self._waiters.pop(run_id, ()):
            if not future.done():
                future.set_result(True)

    def _lost(self) -> None:
        """Notifications may be missed from now on: every waiter must look another way."""
        self._up = False
        self._ended.clear()
        waiters, self._waiters = self._waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(False)

    async def _connect(self) -> Any:
        import asyncpg

        dialect = self._engine.dialect
        args, params = dialect.create_connect_args(self._engine.url)
        params["timeout"] = _CONNECT_TIMEOUT_SECONDS
        settings = dict(params.get("server_settings") or {})
        settings["application_name"] = APPLICATION_NAME
        params["server_settings"] = settings
        return await asyncpg.connect(*args, **params)

    async def _listen_forever(self) -> None:
        # Imported here, on Postgres only: ~2.3 MiB the API on SQLite never uses.
        import asyncpg

        retry = _FIRST_RETRY_SECONDS
        while True:
            try:
                connection = await self._connect()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot listen for run ends (%s); retrying", exc)
                await asyncio.sleep(retry)
                retry = min(retry * 2, _MAX_RETRY_SECONDS)
                continue
            try:
                await self._listen(connection)
                retry = _FIRST_RETRY_SECONDS
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the connection listening for run ends (%s); reconnecting", exc)
            finally:
                self._lost()
                connection.terminate()
            await asyncio.sleep(retry)

    async def _listen(self, connection: Any) -> None:
        """Listen on ``connection`` until it closes or stops answering."""
        closed = asyncio.Event()
        connection.add_termination_listener(lambda _connection: closed.set())
        await connection.add_listener(CHANNEL, self._notified)
        self._generation += 1
        self._up = True
        while not closed.is_set():
            # A connection that died without a word (a cut network) would hold
            # every waiter until its deadline: a ping now and then finds out.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_PING_SECONDS):
                    await closed.wait()
            if not closed.is_set():
                async with asyncio.timeout(_PING_TIMEOUT_SECONDS):
                    await connection.fetchval("SELECT 1")
