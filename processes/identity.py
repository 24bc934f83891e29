"""Which user task processes run as: never the scheduler's own root.

A worker started as root starts every task process as an unprivileged
account (``SCHEDULER_RUN_AS_USER``, default ``nobody``), so a task cannot read
the data dir, the worker's environment (``/proc/<worker>/environ``) or
anything else only root may. Running tasks as root takes an explicit second
setting. A worker started as any other user runs tasks as itself: only root
can switch users, and the README says how to give tasks a user of their own.
"""

from __future__ import annotations

import logging
import os
import pwd
from dataclasses import dataclass

log = logging.getLogger(__name__)


class IdentityRefused(RuntimeError):
    """The configured task user cannot be used; the worker must not start."""


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account a root worker starts task processes as."""

    name: str
    uid: int
    gid: int
    home: str
    start_dir: str
    """Where a task that names no working directory starts: the home, or ``/`` without one."""

    @classmethod
    def lookup(cls, name: str) -> RunAs:
        entry = pwd.getpwnam(name)
        home = entry.pw_dir
        start_dir = home if os.path.isdir(home) else "/"
        return cls(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=home, start_dir=start_dir)


def task_identity(run_as_user: str, *, allow_root_tasks: bool) -> RunAs | None:
    """The account to switch to before ``exec``; None means the worker's own user.

    Raises ``IdentityRefused`` for a user that does not exist, and for a root
    worker told to run tasks as root without ``allow_root_tasks``.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        log.info(
            "task processes run as the worker's own user %r (only a root worker switches users)",
            me,
        )
        return None
    try:
        run_as = RunAs.lookup(run_as_user)
    except KeyError as exc:
        raise IdentityRefused(
            f"SCHEDULER_RUN_AS_USER={run_as_user!r}: no such user on this host"
        ) from exc
    if run_as.uid == 0:
        if not allow_root_tasks:
            raise IdentityRefused(
                f"SCHEDULER_RUN_AS_USER={run_as_user!r} would run every task as root, able to "
                "read the scheduler's secrets; name an unprivileged user, or set "
                "SCHEDULER_ALLOW_ROOT_TASKS=1 to accept that"
            )
        log.warning(
            "task processes run as root (SCHEDULER_ALLOW_ROOT_TASKS=1): any task can read "
            "the data dir and this worker's environment, and so act as Admin"
        )
        return None
    log.info("task processes run as %r (uid %d)", run_as.name, run_as.uid)
    return run_as
