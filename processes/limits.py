"""What a task process may use, set in the child before ``exec``, and naming the limit it hit.

Each limit is a ``setrlimit`` (soft and hard alike, so the task cannot raise
it again) applied by ``child_setup`` between ``fork`` and ``exec``, after the
switch to the task's user. ``RLIMIT_NPROC`` counts every process of the
task's real user, not of the one task: with the default ``nobody`` shared by
all tasks it bounds them together (the README says so).
"""

from __future__ import annotations

import ctypes
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38

_LIBC = ctypes.CDLL(None, use_errno=True)
_prctl = _LIBC.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def prctl(option: int, value: int) -> None:
    """``prctl(option, value, 0, 0, 0)``; OSError on failure."""
    if _prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}) failed")


def become_subreaper() -> None:
    """Orphaned descendants of this process are reparented to it, not to init."""
    prctl(_PR_SET_CHILD_SUBREAPER, 1)


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


def child_setup(limits: TaskLimits) -> Callable[[], None]:
    """The function a task's child runs after ``fork`` and the user switch, before ``exec``.

    It sets ``no_new_privs`` (no setuid binary or file capability raises the
    task's privileges again), makes the task's first process a subreaper (so
    a double fork inside a running task stays under it and only reaches the
    worker once the task's process has exited) and applies the limits. Only
    async-signal-tolerant work happens in the child: the limits are computed
    here, in the parent.
    """
    rlimits = limits.rlimits()

    def setup() -> None:
        prctl(_PR_SET_NO_NEW_PRIVS, 1)
        prctl(_PR_SET_CHILD_SUBREAPER, 1)
        for which, soft, hard in rlimits:
            _, current_hard = resource.getrlimit(which)
            if current_hard != resource.RLIM_INFINITY:
                # Unprivileged by now: a limit cannot be raised past the inherited hard one.
                soft, hard = min(soft, current_hard), min(hard, current_hard)
            resource.setrlimit(which, (soft, hard))

    return setup
