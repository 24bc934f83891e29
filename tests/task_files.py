"""Files for task processes, which run as ``nobody`` under the suite's root workers.

The suite's workers, like any root worker, start tasks as
``SCHEDULER_RUN_AS_USER`` (default ``nobody``), and every directory the suite
makes for itself (``mkdtemp``, ``tmp_path``, a stack's data dir) is 0700: a
task may neither read nor write there. What a test wants a task to touch
goes into a directory handed to that user on purpose.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from activities.environment import BASE_PATH

TASK_USER = "nobody"
"""The default ``SCHEDULER_RUN_AS_USER``, which the suite keeps."""

TASK_PYTHON = shutil.which("python3", path=BASE_PATH) or "/usr/bin/python3"
"""An interpreter the task user may run (the suite's own lives under root's home)."""


def task_dir(prefix: str = "task-") -> Path:
    """A new directory owned by the task user (when the suite runs as root), 0755."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        user = pwd.getpwnam(TASK_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
