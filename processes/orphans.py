"""Ending what a task leaves behind outside its process group.

``setsid`` or a double fork takes a process out of the task's group, where
ending the group cannot reach it. The worker is therefore a child subreaper
(``processes.limits.become_subreaper``): such a process, once its parents are
gone, is reparented to the worker instead of to init. A child of the worker
that the worker did not start itself is thus an escapee of some run, and each
run's end sweeps them (and their descendants) away: SIGTERM, a grace period,
SIGKILL, and the zombies reaped.

An escapee is reparented to the worker as soon as its parent exits, which may
be while its run still goes on, and nothing in the process says which run it
came from. Its start time does bound that: a process starts after every run
it could belong to. So a sweep ends only the escapees that started before
the oldest run still open; one that started later may belong to a run still
going on, and is left to the sweep after that run's end. With no run open, a
sweep ends every escapee. (Marking each task's first process a subreaper too
would tell exactly, but that is a ``prctl`` between ``fork`` and ``exec``, and
no Python may run there: ``processes.limits``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _now_in_ticks() -> int:
    """The clock of a process's start time in ``/proc/PID/stat``: ticks since boot.

    One tick early, so that no process started after the call reads as earlier.
    """
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS_PER_SECOND) - 1


@dataclass(frozen=True)
class ProcessEntry:
    """One line of ``/proc/PID/stat``: the fields the sweep and group checks read."""

    pid: int
    ppid: int
    pgrp: int
    state: str
    started: int  # clock ticks since boot: with the pid, names one process


def _read(pid: int) -> ProcessEntry | None:
    # Plain os calls, not pathlib: a sweep reads every process's stat after
    # every run, and the file objects cost more than the reads themselves.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # Fields after the parenthesised command: state ppid pgrp ... starttime (the 20th).
    fields = stat.rsplit(b")", 1)[-1].split()
    if len(fields) < 20:
        return None
    return ProcessEntry(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        state=fields[0].decode(),
        started=int(fields[19]),
    )


def process_table() -> list[ProcessEntry]:
    """Every process of the machine as ``/proc`` shows it now."""
    entries = []
    for name in os.listdir("/proc"):
        if name.isdigit() and (entry := _read(int(name))) is not None:
            entries.append(entry)
    return entries


def _descendants(roots: Iterable[ProcessEntry], table: list[ProcessEntry]) -> list[ProcessEntry]:
    children: dict[int, list[ProcessEntry]] = {}
    for entry in table:
        children.setdefault(entry.ppid, []).append(entry)
    found, queue = [], list(roots)
    while queue:
        entry = queue.pop()
        found.append(entry)
        queue.extend(children.get(entry.pid, ()))
    return found


def _alive(entry: ProcessEntry) -> bool:
    """Still the same process, and not yet a zombie."""
    now = _read(entry.pid)
    return now is not None and now.started == entry.started and now.state not in ("Z", "X")


def _signal(entry: ProcessEntry, signum: int) -> None:
    # Through a pidfd checked against the start time: a pid that was reused
    # since the scan names another process, which must not be signalled.
    try:
        fd = os.pidfd_open(entry.pid)
    except OSError:
        return
    try:
        if _alive(entry):
            signal.pidfd_send_signal(fd, signum)
    except OSError:
        pass
    finally:
        os.close(fd)


async def _gone_within(entries: list[ProcessEntry], seconds: float) -> bool:
    """Whether every one of ``entries`` has exited (or become a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(entry) for entry in entries):
            return True
        await asyncio.sleep(0.05)
    return not any(_alive(entry) for entry in entries)


class Starting:
    """What ``OrphanSweeper.starting`` yields: ``add`` the new child's pid once it is known."""

    def __init__(self, sweeper: OrphanSweeper, run: int | None) -> None:
        self._sweeper = sweeper
        self._run = run
        self.pid: int | None = None

    def add(self, pid: int) -> None:
        self.pid = pid
        self._sweeper._known[pid] = self._run


class OrphanSweeper:
    """The worker's children it started itself are ``known``; every other child is swept.

    A known child is either a run's first process, whose start opens the run
    until it is ``forget``-ten, or a helper of the worker (the watchdog).
    """

    def __init__(self, grace_seconds: float) -> None:
        self._grace_seconds = grace_seconds
        self._known: dict[int, int | None] = {}  # pid -> its run's token, None for a helper
        self._runs: dict[int, int] = {}  # an open run's token -> its start, in ticks
        self._tokens = itertools.count()
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def starting(self, *, run: bool = True) -> AsyncIterator[Starting]:
        """Hold off sweeps while a child starts; ``add`` its pid to what it yields.

        Between ``fork`` and the caller learning the pid, the new child would
        look like an orphan to a sweep. With ``run``, the child is a run's
        first process: the run is open from before the ``fork`` until
        ``forget(pid)``, and escapees that started since are not swept
        meanwhile. A start that raises opens nothing.
        """
        async with self._lock:
            token: int | None = None
            if run:
                token = next(self._tokens)
                self._runs[token] = _now_in_ticks()
            starting = Starting(self, token)
            try:
                yield starting
            finally:
                if token is not None and starting.pid is None:
                    del self._runs[token]

    def forget(self, pid: int) -> None:
        """``pid`` has exited and been reaped by its owner; its run, if any, is over."""
        token = self._known.pop(pid, None)
        if token is not None:
            self._runs.pop(token, None)

    def _swept_before(self) -> int | None:
        """Escapees that started before this tick are swept; None: every one."""
        return min(self._runs.values(), default=None)

    async def sweep(self) -> int:
        """End every child of this process it did not start, with their descendants.

        Only those that started before the oldest open run (module docstring).
        Returns how many live processes it ended.
        """
        me = os.getpid()
        async with self._lock:
            table = process_table()
            before = self._swept_before()
            orphans = [
                e
                for e in table
                if e.ppid == me
                and e.pid not in self._known
                and (before is None or e.started < before)
            ]
        if not orphans:
            return 0
        doomed = [e for e in _descendants(orphans, table) if e.state not in ("Z", "X")]
        if not doomed:
            await self._reap()
            return 0
        for entry in doomed:
            _signal(entry, signal.SIGTERM)
        if not await _gone_within(doomed, self._grace_seconds):
            for entry in doomed:
                _signal(entry, signal.SIGKILL)
            await _gone_within(doomed, 1.0)
        await self._reap()
        return len(doomed)

    async def _reap(self) -> None:
        """Collect the exit status of every zombie child this process did not start."""
        me = os.getpid()
        async with self._lock:
            for entry in process_table():
                if entry.ppid == me and entry.pid not in self._known and entry.state == "Z":
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(entry.pid, os.WNOHANG)  # noqa: ASYNC222 - WNOHANG: never blocks
