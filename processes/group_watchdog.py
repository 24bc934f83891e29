"""A companion process that ends a killed worker's task processes.

A timeout, a cancellation or a clean shutdown ends a task's process group from
the worker itself (``processes.spawn``). A worker killed outright
(SIGKILL, the OOM killer) cannot: its task processes would run on while
Temporal, seeing no heartbeat, retries their attempts on another worker, so the
same task would run twice at once.

Each worker that starts programs starts one watchdog, in a session of its own,
and tells it over a pipe which process groups it starts and which have ended.
The worker alone holds the pipe's write end; when the pipe closes, for
whatever reason, the watchdog ends every group still registered (SIGTERM, a
grace period, then SIGKILL) and exits.

Its process is ``processes.watchdog_process``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path

from processes.orphans import OrphanSweeper

log = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class GroupWatchdog:
    """The worker's end of the pipe: ``watch`` a group once started, ``forget`` it once ended.

    Should the watchdog itself die (the OOM killer, an operator's ``kill``),
    a new one is started and told every group still running.
    """

    def __init__(self, grace_seconds: float, sweeper: OrphanSweeper | None) -> None:
        self._grace_seconds = grace_seconds
        self._sweeper = sweeper
        self._groups: set[int] = set()
        self._process: asyncio.subprocess.Process | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    async def start(
        cls, grace_seconds: float, sweeper: OrphanSweeper | None = None
    ) -> GroupWatchdog:
        """Start the watchdog; a ``sweeper`` is told it is the worker's own child, not an orphan."""
        watchdog = cls(grace_seconds, sweeper)
        watchdog._process = await watchdog._spawn()
        watchdog._keeper = asyncio.create_task(watchdog._keep_running())
        return watchdog

    async def _spawn(self) -> asyncio.subprocess.Process:
        if self._sweeper is None:
            return await self._exec()
        if self._process is not None:
            self._sweeper.forget(self._process.pid)
        async with self._sweeper.starting(run=False) as started:
            process = await self._exec()
            started.add(process.pid)
        return process

    async def _exec(self) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            # No site-packages (~2.4 MiB less): the process and what it imports to
            # end the groups are the standard library and this project's root.
            "-S",
            "-m",
            "processes.watchdog_process",
            str(self._grace_seconds),
            stdin=asyncio.subprocess.PIPE,
            cwd=_PROJECT_ROOT,  # so that ``-m`` finds this module whatever the worker's cwd
            # Not in the worker's group: a signal to that group must not reach it first.
            start_new_session=True,
        )

    async def _keep_running(self) -> None:
        while True:
            assert self._process is not None
            code = await self._process.wait()
            if self._closing:
                return
            log.error("the group watchdog exited (%s); starting a new one", code)
            try:
                self._process = await self._spawn()
            except OSError:
                log.exception("cannot start a new group watchdog; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            for pgid in self._groups:
                self._send(f"+{pgid}\n")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def watch(self, pgid: int) -> None:
        self._groups.add(pgid)
        self._send(f"+{pgid}\n")

    def forget(self, pgid: int) -> None:
        self._groups.discard(pgid)
        self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        # A few bytes, buffered by the transport: never blocks the event loop.
        # A watchdog found gone is replaced by ``_keep_running``, which resends the groups.
        process = self._process
        if process is None or process.stdin is None:
            return
        if process.returncode is None and not process.stdin.is_closing():
            process.stdin.write(line.encode())

    async def close(self) -> None:
        """Close the pipe (groups still registered are ended) and wait for the watchdog."""
        self._closing = True
        process = self._process
        if process is not None and process.stdin is not None:
            process.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await process.stdin.wait_closed()
            await process.wait()
        if self._keeper is not None:
            await self._keeper
