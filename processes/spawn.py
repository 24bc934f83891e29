"""Child processes in their own session, whose whole group dies with the run.

Shared by the executors that start programs (shell, python): output is
bounded, and timeout, cancellation or the child's own exit end every process
left in its group (SIGTERM, a grace period, then SIGKILL) so no orphan
survives a run. Each group is registered with the worker's watchdog
(``processes.group_watchdog``) while it runs, so it also ends when the
worker is killed outright. A root worker can start the child as an
unprivileged user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account a root worker starts task processes as."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def lookup(cls, name: str) -> RunAs:
        entry = pwd.getpwnam(name)
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=entry.pw_dir)


class GroupRegistry(Protocol):
    """Who ends the registered process groups should the worker die (the watchdog)."""

    def watch(self, pgid: int) -> None: ...

    def forget(self, pgid: int) -> None: ...


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int
    stdout: BoundedOutput
    stderr: BoundedOutput

    def failure_reason(self) -> str:
        """A one-paragraph reason for a non-zero exit, with the stderr tail."""
        if self.exit_code < 0:
            reason = f"killed by signal {signal.Signals(-self.exit_code).name}"
        else:
            reason = f"exit code {self.exit_code}"
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
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


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
    run_as: RunAs | None = None,
) -> ProcessOutcome:
    """Run ``argv`` to completion; see the module docstring. The caller heartbeats."""
    environment = dict(env)
    identity: dict[str, object] = {}
    if run_as is not None:
        identity = {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
        environment["HOME"] = run_as.home
        environment["USER"] = environment["LOGNAME"] = run_as.name
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        **identity,  # type: ignore[arg-type]
    )
    pgid = proc.pid
    watchdog.watch(pgid)
    try:
        return await _supervise(proc, pgid, output_limit, grace_seconds)
    finally:
        watchdog.forget(pgid)


async def _supervise(
    proc: asyncio.subprocess.Process, pgid: int, output_limit: int, grace_seconds: float
) -> ProcessOutcome:
    """Collect the output and the exit code; end the whole group however the wait ends."""
    stdout, stderr = BoundedOutput(output_limit), BoundedOutput(output_limit)
    assert proc.stdout is not None
    assert proc.stderr is not None
    readers = [
        asyncio.create_task(pump(proc.stdout, stdout)),
        asyncio.create_task(pump(proc.stderr, stderr)),
    ]
    try:
        exit_code = await proc.wait()
    except BaseException:
        # Cancelled (timeout, cancel, worker shutdown): the whole group goes.
        await asyncio.shield(terminate_group(pgid, grace_seconds))
        with contextlib.suppress(ProcessLookupError):
            await asyncio.shield(proc.wait())
        for reader in readers:
            reader.cancel()
        raise
    # The child is done; whatever it left running in its group ends with it,
    # and closing their ends of the pipes lets the readers finish.
    await terminate_group(pgid, grace_seconds)
    _, pending = await asyncio.wait(readers, timeout=grace_seconds + 1)
    for reader in pending:
        reader.cancel()
    return ProcessOutcome(exit_code=exit_code, stdout=stdout, stderr=stderr)
