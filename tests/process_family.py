"""A shell that leaves a background grandchild: what must not outlive a killed worker."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import eventually

FAMILY = "sleep 300 & echo $! > {pids}; echo $$ >> {pids}; wait"
"""Shell command: writes the background ``sleep``'s pid, then its own, to ``{pids}``."""


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def members(pids: Path) -> tuple[int, int]:
    """The shell's pid and its grandchild's, once ``FAMILY`` has written them."""

    def written() -> tuple[int, int] | None:
        lines = pids.read_text().split() if pids.exists() else []
        return (int(lines[1]), int(lines[0])) if len(lines) == 2 else None

    return eventually(written, timeout=10)
