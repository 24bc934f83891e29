"""The group watchdog ends the process groups of a worker that is gone, and only those."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from processes.group_watchdog import GroupWatchdog
from tests.helpers import eventually
from tests.process_family import FAMILY, alive, members


def family(pids: Path) -> subprocess.Popen[bytes]:
    """A shell and its background ``sleep``, in a session of their own."""
    return subprocess.Popen(["/bin/sh", "-c", FAMILY.format(pids=pids)], start_new_session=True)


def test_closing_the_pipe_ends_watched_groups_and_spares_forgotten_ones(tmp_path: Path) -> None:
    watched, forgotten = family(tmp_path / "watched"), family(tmp_path / "forgotten")
    try:
        watched_pids, forgotten_pids = (
            members(tmp_path / "watched"),
            members(tmp_path / "forgotten"),
        )

        async def main() -> None:
            watchdog = await GroupWatchdog.start(grace_seconds=1)
            watchdog.watch(watched.pid)
            watchdog.watch(forgotten.pid)
            watchdog.forget(forgotten.pid)
            await watchdog.close()

        asyncio.run(main())
        watched.wait(timeout=10)
        eventually(lambda: not any(alive(pid) for pid in watched_pids), timeout=10)
        assert all(alive(pid) for pid in forgotten_pids)
    finally:
        for group in (watched, forgotten):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group.pid, signal.SIGKILL)
            group.wait(timeout=10)


WORKER = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from processes.group_watchdog import GroupWatchdog

    async def main():
        watchdog = await GroupWatchdog.start(grace_seconds=1)
        child = subprocess.Popen(["/bin/sh", "-c", sys.argv[1]], start_new_session=True)
        watchdog.watch(child.pid)
        print(watchdog.pid, flush=True)
        await asyncio.sleep(300)

    asyncio.run(main())
    """
)


def test_a_sigkilled_worker_takes_its_groups_with_it(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, FAMILY.format(pids=pids)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert worker.stdout is not None
    watchdog_pid = int(worker.stdout.readline())
    shell, sleep = members(pids)
    try:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        began = time.monotonic()
        eventually(lambda: not alive(shell) and not alive(sleep), timeout=10)
        assert time.monotonic() - began < 5  # SIGTERM ends them; no wait for the grace
        eventually(lambda: not alive(watchdog_pid), timeout=10)
    finally:
        for pid in (shell, sleep, watchdog_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_watchdog_is_replaced_and_told_the_running_groups(tmp_path: Path) -> None:
    group = family(tmp_path / "pids")
    try:
        shell, sleep = members(tmp_path / "pids")

        async def main() -> None:
            watchdog = await GroupWatchdog.start(grace_seconds=1)
            watchdog.watch(group.pid)
            first = watchdog.pid
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while watchdog.pid == first and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert watchdog.pid != first
            assert alive(shell) and alive(sleep)  # the killed one ended nothing
            await watchdog.close()

        asyncio.run(main())
        group.wait(timeout=10)
        eventually(lambda: not alive(shell) and not alive(sleep), timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.pid, signal.SIGKILL)
        group.wait(timeout=10)
