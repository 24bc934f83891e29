"""Child processes in their own session, whose whole group dies with the run.

Shared by the executors that start programs (shell, python): output is
bounded, and timeout, cancellation or the child's own exit end every process
left in its group (SIGTERM, a grace period, then SIGKILL); what left the
group (``setsid``, a double fork) is swept by ``processes.orphans``, so no
orphan survives a run. Each group is registered with the worker's watchdog
(``processes.group_watchdog``) while it runs, so it also ends when the
worker is killed outright. A root worker starts the child as an
unprivileged user (``processes.identity``).

No Python code runs in the child between ``fork`` and ``exec``
(``preexec_fn`` is never used): the session, the user switch and the umask
are done by CPython's C fork helper, ``no_new_privs`` is inherited from the
worker, and the resource limits are applied by exec'ing through ``prlimit``
(``processes.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from processes.identity import RunAs
from processes.limits import TaskLimits
from processes.orphans import OrphanSweeper, process_table
from processes.output import BoundedOutput, pump

log = logging.getLogger(__name__)

ERROR_TAIL_CHARS = 2000


def wait_for_children_with_pidfds() -> bool:
    """Have asyncio learn of a task process's exit through a pidfd, not a thread.

    Call it from the running event loop that starts the processes.

    Python 3.11's default child watcher starts one thread per child process to
    block in ``waitpid()``: every shell or python run paid a thread start and
    two hand-offs between threads, and a minute boundary's burst of runs meant
    a burst of threads. A pidfd is watched by the event loop itself. Python
    3.12 chooses pidfds on its own, so this does nothing there. Returns whether
    it switched; the default stays where the kernel (before 5.3) or a seccomp
    profile refuses ``pidfd_open``.
    """
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError as exc:
        log.info("pidfd_open refused (%s): a thread waits for each task process", exc)
        return False
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)
    return True


class GroupRegistry(Protocol):
    """Who ends the registered process groups should the worker die (the watchdog)."""

    def watch(self, pgid: int) -> None: ...

    def forget(self, pgid: int) -> None: ...


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int
    stdout: BoundedOutput
    stderr: BoundedOutput
    limit_hit: str | None = None
    """The resource limit the exit came from, named with its setting (``processes.limits``)."""

    def failure_reason(self) -> str:
        """A one-paragraph reason for a non-zero exit, with the stderr tail."""
        if self.exit_code < 0:
            reason = f"killed by signal {signal.Signals(-self.exit_code).name}"
        else:
            reason = f"exit code {self.exit_code}"
        if self.limit_hit is not None:
            reason = f"{self.limit_hit}; {reason}"
        tail = self.stderr.tail_text(ERROR_TAIL_CHARS).strip()
        return f"{reason}: {tail}" if tail else reason


def _group_members(pgid: int) -> bool:
    """True while a live (non-zombie) process remains in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    return any(entry.pgrp == pgid and entry.state != "Z" for entry in process_table())


async def terminate_group(pgid: int, grace_seconds: float) -> None:
    """SIGTERM the group, wait up to the grace period, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not _group_members(pgid):
            return
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    output_limit: int,
    grace_seconds: float,
    watchdog: GroupRegistry,
    sweeper: OrphanSweeper,
    run_as: RunAs | None = None,
    limits: TaskLimits | None = None,
    command_prefix: Sequence[str] = (),
) -> ProcessOutcome:
    """Run ``argv`` to completion; see the module docstring. The caller heartbeats.

    ``command_prefix`` is what applies ``limits`` (``TaskLimits.command_prefix``,
    computed once by the caller); ``limits`` names the limit an exit came from.
    """
    limits = limits or TaskLimits()
    environment = dict(env)
    identity: dict[str, object] = {}
    if run_as is not None:
        # setgroups([]), setgid, setuid in the child, in that order, before ``exec``.
        identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
        environment["HOME"] = run_as.home
        environment["USER"] = environment["LOGNAME"] = run_as.name
        if cwd is None:
            # The worker's own directory may be closed to the task user: a task
            # that names no working directory starts in its user's home, or at /.
            cwd = run_as.start_dir
    loop = asyncio.get_running_loop()
    protocol = _ExitProtocol(loop)
    async with sweeper.starting() as started:
        transport, _ = await loop.subprocess_exec(
            lambda: protocol,
            *command_prefix,
            *argv,
            cwd=cwd,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            # The worker keeps its own files private (umask 077); a task's are its own business.
            umask=0o022,
            # Never a preexec_fn: the worker is threaded (module docstring).
            preexec_fn=None,
            **identity,  # type: ignore[arg-type]
        )
        started.add(transport.get_pid())
    proc = asyncio.subprocess.Process(transport, protocol, loop)
    pgid = proc.pid
    watchdog.watch(pgid)
    try:
        outcome = await _supervise(proc, protocol.exited, sweeper, output_limit, grace_seconds)
    finally:
        watchdog.forget(pgid)
    limit_hit = limits.limit_hit(outcome.exit_code, outcome.stderr.tail_text(ERROR_TAIL_CHARS))
    if limit_hit is None:
        return outcome
    return ProcessOutcome(outcome.exit_code, outcome.stdout, outcome.stderr, limit_hit)


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol for ``create_subprocess_exec``, telling when the child itself exits.

    ``Process.wait()`` returns only once the child's pipes are closed too, and
    a process that escaped the group (``setsid``) holds them open for as long
    as it lives: the run must end, and sweep it, when the child exits.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def _supervise(
    proc: asyncio.subprocess.Process,
    exited: asyncio.Future[None],
    sweeper: OrphanSweeper,
    output_limit: int,
    grace_seconds: float,
) -> ProcessOutcome:
    """Collect the output and the exit code; end every process left, however the wait ends."""
    stdout, stderr = BoundedOutput(output_limit), BoundedOutput(output_limit)
    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [
        asyncio.create_task(pump(proc.stdout, stdout)),
        asyncio.create_task(pump(proc.stderr, stderr)),
    ]
    try:
        await asyncio.shield(exited)
    except BaseException:
        # Cancelled (timeout, cancel, worker shutdown): the whole group goes, then the rest.
        await asyncio.shield(_end_the_rest(proc, exited, sweeper, grace_seconds))
        for reader in readers:
            reader.cancel()
        raise
    # The child is done; whatever it left running ends with it, and closing
    # their ends of the pipes lets the readers finish.
    await _end_the_rest(proc, exited, sweeper, grace_seconds)
    _, pending = await asyncio.wait(readers, timeout=grace_seconds + 1)
    for reader in pending:
        reader.cancel()
    exit_code = proc.returncode
    assert exit_code is not None
    return ProcessOutcome(exit_code=exit_code, stdout=stdout, stderr=stderr)


async def _end_the_rest(
    proc: asyncio.subprocess.Process,
    exited: asyncio.Future[None],
    sweeper: OrphanSweeper,
    grace_seconds: float,
) -> None:
    """End the child's group, wait for the child, then sweep what escaped the group."""
    await terminate_group(proc.pid, grace_seconds)
    await exited
    sweeper.forget(proc.pid)
    await sweeper.sweep()
