"""What a task process may use, and naming the limit it hit.

No Python runs in a task's child between ``fork`` and ``exec``: the worker
is a threaded process (the Temporal SDK's core threads), a child forked from
it may only make async-signal-safe calls, and Python code there can deadlock
on a lock another thread held at the fork, freezing the worker's event loop
while it waits for the child to ``exec``. So:

- ``no_new_privs`` is set on the worker itself at its start
  (``forbid_new_privileges``): the attribute is inherited across ``fork``
  and kept across ``exec``, so every task process has it, and nothing the
  worker runs needs a setuid binary (task users are switched by the
  ``setuid`` call, which ``no_new_privs`` does not restrict).
- The limits are applied by exec'ing the task's command through util-linux
  ``prlimit`` (``command_prefix``), after the switch to the task's user:
  ``prlimit`` sets each limit on itself (soft and hard alike, so the task
  cannot raise it again) and then execs the command, which keeps them. With
  no limit configured the command is exec'd directly.

``RLIMIT_NPROC`` counts every process of the task's real user, not of the
one task: with the default ``nobody`` shared by all tasks it bounds them
together (the README says so).
"""

from __future__ import annotations

import ctypes
import resource
import shutil
import signal
from dataclasses import dataclass

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38

_LIBC = ctypes.CDLL(None, use_errno=True)
_prctl = _LIBC.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int

_PRLIMIT_OPTIONS = {
    resource.RLIMIT_AS: "--as",
    resource.RLIMIT_NPROC: "--nproc",
    resource.RLIMIT_NOFILE: "--nofile",
    resource.RLIMIT_CPU: "--cpu",
}


class LimitsUnavailable(RuntimeError):
    """Limits are configured but this host cannot apply them (no ``prlimit``)."""


def prctl(option: int, value: int) -> None:
    """``prctl(option, value, 0, 0, 0)``; OSError on failure."""
    if _prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}) failed")


def become_subreaper() -> None:
    """Orphaned descendants of this process are reparented to it, not to init."""
    prctl(_PR_SET_CHILD_SUBREAPER, 1)


def forbid_new_privileges() -> None:
    """Set ``no_new_privs`` on the calling thread, for good: no ``exec`` can raise privileges.

    The attribute is per thread and inherited by the threads and processes
    created after it: call it in the main thread before any other thread
    starts, so that whichever thread forks a task process, the task has it.
    """
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


@dataclass(frozen=True)
class TaskLimits:
    """Per-process limits from settings; None leaves the worker's own limit in place."""

    memory_mb: int | None = None
    processes: int | None = None
    open_files: int | None = None
    cpu_seconds: int | None = None

    def rlimits(self) -> list[tuple[int, int, int]]:
        """``(resource, soft, hard)`` for each limit set."""
        limits: list[tuple[int, int, int]] = []
        if self.memory_mb is not None:
            size = self.memory_mb * 1024 * 1024
            limits.append((resource.RLIMIT_AS, size, size))
        if self.processes is not None:
            limits.append((resource.RLIMIT_NPROC, self.processes, self.processes))
        if self.open_files is not None:
            limits.append((resource.RLIMIT_NOFILE, self.open_files, self.open_files))
        if self.cpu_seconds is not None:
            # SIGXCPU at the soft limit names the cause; the hard limit a second
            # later is SIGKILL for a process that ignores SIGXCPU.
            limits.append((resource.RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds + 1))
        return limits

    def command_prefix(self, prlimit: str | None = None) -> tuple[str, ...]:
        """The argv prefix that applies these limits to the command after it; () for none set.

        ``prlimit`` is the path of util-linux ``prlimit`` (default: found on
        ``PATH`` now); LimitsUnavailable if a limit is set and there is none.
        Each limit is capped at the worker's own hard limit, which its task
        processes inherit and, unprivileged, cannot raise. Call it once, at
        the worker's start.
        """
        rlimits = self.rlimits()
        if not rlimits:
            return ()
        path = prlimit or shutil.which("prlimit")
        if path is None:
            raise LimitsUnavailable(
                "SCHEDULER_TASK_MAX_* limits are set but util-linux prlimit is not on PATH"
            )
        prefix = [path]
        for which, soft, hard in rlimits:
            _, inherited = resource.getrlimit(which)
            if inherited != resource.RLIM_INFINITY:
                soft, hard = min(soft, inherited), min(hard, inherited)
            prefix.append(f"{_PRLIMIT_OPTIONS[which]}={soft}:{hard}")
        prefix.append("--")
        return tuple(prefix)

    def limit_hit(self, exit_code: int, stderr_tail: str) -> str | None:
        """The limit an exit most likely came from, as a phrase naming its setting; else None.

        The CPU limit is told by its signal, SIGXCPU, which only the kernel's
        CPU accounting sends (a shell reports a child killed by it as exit
        code 128 + 24). The other limits make a call fail (ENOMEM, EAGAIN,
        EMFILE) rather than send a signal, so the program's own report of
        that error in its stderr is the evidence, and only for a limit that
        is set.
        """
        if self.cpu_seconds is not None and exit_code in (
            -signal.SIGXCPU,
            128 + signal.SIGXCPU,
        ):
            return f"CPU time limit (SCHEDULER_TASK_MAX_CPU_SECONDS={self.cpu_seconds}) reached"
        if exit_code == 0:
            return None
        text = stderr_tail.lower()
        if self.memory_mb is not None and any(
            mark in text for mark in ("memoryerror", "cannot allocate memory", "out of memory")
        ):
            return f"memory limit (SCHEDULER_TASK_MAX_MEMORY_MB={self.memory_mb}) reached"
        if self.processes is not None and any(
            mark in text
            for mark in ("resource temporarily unavailable", "blockingioerror", "cannot fork")
        ):
            return f"process limit (SCHEDULER_TASK_MAX_PROCESSES={self.processes}) reached"
        if self.open_files is not None and "too many open files" in text:
            return f"open files limit (SCHEDULER_TASK_MAX_OPEN_FILES={self.open_files}) reached"
        return None
