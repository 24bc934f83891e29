"""The data dir is the scheduler's alone: 0700, every file in it 0600.

It holds the JWT secret, the SQLite database (with its ``-wal`` and ``-shm``
files) and the dev server's Temporal database: whoever reads one of them can
forge an Admin token or read every task. Every process of the scheduler (the
API, the workers, the launcher) calls ``keep_private`` at start: it tightens
what is already there and sets the process's umask to 077, so that whatever
it creates later (SQLite creates its ``-wal`` and ``-shm`` files lazily, with
the database file's mode) is private from the start.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        current = path.lstat()
    except FileNotFoundError:
        return  # removed meanwhile (a SQLite -shm file, say)
    if stat.S_ISLNK(current.st_mode):
        return  # a link's own mode means nothing; its target is not ours to change
    if stat.S_IMODE(current.st_mode) & ~mode:
        try:
            path.chmod(stat.S_IMODE(current.st_mode) & mode)
        except OSError as exc:
            log.warning("cannot make %s private (%s); fix its mode by hand", path, exc)


def keep_private(data_dir: Path) -> None:
    """``tighten`` the data dir, and have this process create private files from now on."""
    os.umask(0o077)
    tighten(data_dir)


def tighten(data_dir: Path) -> None:
    """Create ``data_dir`` 0700 if need be, take group and other bits off everything in it."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(data_dir, DIR_MODE)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _tighten(Path(root, name), DIR_MODE)
        for name in files:
            _tighten(Path(root, name), FILE_MODE)
