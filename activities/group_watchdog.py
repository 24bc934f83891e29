"""A companion process that ends a killed worker's task processes.

A timeout, a cancellation or a clean shutdown ends a task's process group from
the worker itself (``activities.processes``). A worker killed outright
(SIGKILL, the OOM killer) cannot: its task processes would run on while
Temporal, seeing no heartbeat, retries their attempts on another worker, so the
same task would run twice at once.

Each worker that starts programs starts one watchdog, in a session of its own,
and tells it over a pipe which process groups it starts and which have ended.
The worker alone holds the pipe's write end; when the pipe closes, for
whatever reason, the watchdog ends every group still registered (SIGTERM, a
grace period, then SIGKILL) and exits.

Run as ``python -m activities.group_watchdog GRACE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from activities.processes import terminate_group

log = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class GroupWatchdog:
    """The worker's end of the pipe: ``watch`` a group once started, ``forget`` it once ended."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        assert process.stdin is not None
        self._pipe = process.stdin

    @classmethod
    async def start(cls, grace_seconds: float) -> GroupWatchdog:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(grace_seconds),
            stdin=asyncio.subprocess.PIPE,
            cwd=_PROJECT_ROOT,  # so that ``-m`` finds this module whatever the worker's cwd
            # Not in the worker's group: a signal to that group must not reach it first.
            start_new_session=True,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        # A few bytes, buffered by the transport: never blocks the event loop.
        if self._process.returncode is None and not self._pipe.is_closing():
            self._pipe.write(line.encode())
        else:
            log.error("the group watchdog is gone (exit %s)", self._process.returncode)

    async def close(self) -> None:
        """Close the pipe (groups still registered are ended) and wait for the watchdog."""
        self._pipe.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self._pipe.wait_closed()
        await self._process.wait()


async def _end_groups(groups: set[int], grace_seconds: float) -> None:
    await asyncio.gather(*(terminate_group(pgid, grace_seconds) for pgid in groups))


def main(argv: list[str]) -> int:
    grace_seconds = float(argv[0]) if argv else 5.0
    # The worker's Ctrl-C or SIGTERM is for the worker, which ends its groups itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        sign, pgid = line[:1], line[1:].strip()
        if not pgid.isdigit():
            continue
        if sign == "+":
            groups.add(int(pgid))
        elif sign == "-":
            groups.discard(int(pgid))
    if groups:
        print(f"group watchdog: worker gone; ending process groups {sorted(groups)}", flush=True)
        asyncio.run(_end_groups(groups, grace_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
