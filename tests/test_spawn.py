"""Starting a task process: no Python between fork and exec, limits through prlimit, escapees swept.

The probes run in a fresh interpreter: the orphan sweeper ends every child of
its process that it did not start, which in the test process would be the
suite's own servers.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys

import pytest

from processes.limits import LimitsUnavailable, TaskLimits

SPAWN_PROBE = """
import asyncio, json, subprocess
from processes.group_watchdog import GroupWatchdog
from processes.limits import TaskLimits
from processes.orphans import OrphanSweeper
from processes.spawn import run_process

preexec = []
class Recording(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        preexec.append(kwargs.get("preexec_fn"))
        super().__init__(*args, **kwargs)
subprocess.Popen = Recording

LIMITS = TaskLimits(memory_mb=256, processes=4000, open_files=64, cpu_seconds=5)

async def main():
    sweeper = OrphanSweeper(grace_seconds=1)
    watchdog = await GroupWatchdog.start(1, sweeper)
    async def run(command, limits):
        return await run_process(
            ["/bin/sh", "-c", command], cwd="/", env={"PATH": "/usr/bin:/bin"},
            output_limit=4096, grace_seconds=1, watchdog=watchdog, sweeper=sweeper,
            limits=limits, command_prefix=limits.command_prefix(),
        )
    try:
        plain = await run("ulimit -n", TaskLimits())
        limited = await run("ulimit -H -n; ulimit -S -n; ulimit -v; ulimit -t; ulimit -p", LIMITS)
        over = await run(
            "python3 -c 'files = [open(\\"/dev/null\\") for _ in range(100)]'", LIMITS
        )
    finally:
        await watchdog.close()
    print(json.dumps({
        "preexec": [repr(fn) for fn in preexec],
        "plain": plain.stdout.text().split(),
        "limited": limited.stdout.text().split(),
        "over": [over.exit_code, over.limit_hit],
    }))

asyncio.run(main())
"""


def test_no_python_runs_in_the_child_and_the_limits_still_apply() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", SPAWN_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(probe.stdout)
    # The watchdog, then three task processes: none with a preexec_fn.
    assert seen["preexec"] == ["None"] * 4, seen
    assert seen["plain"] == [str(resource.getrlimit(resource.RLIMIT_NOFILE)[0])]
    assert seen["limited"] == ["64", "64", str(256 * 1024), "5", "4000"]
    exit_code, limit_hit = seen["over"]
    assert exit_code != 0
    assert limit_hit == "open files limit (SCHEDULER_TASK_MAX_OPEN_FILES=64) reached"


def test_no_limit_no_prlimit() -> None:
    assert TaskLimits().command_prefix(prlimit=None) == ()


def test_limits_are_prlimit_options_capped_at_the_inherited_hard_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hard = {resource.RLIMIT_NOFILE: 1024}

    def getrlimit(which: int) -> tuple[int, int]:
        return (0, hard.get(which, resource.RLIM_INFINITY))

    monkeypatch.setattr(resource, "getrlimit", getrlimit)
    limits = TaskLimits(memory_mb=1, processes=10, open_files=4096, cpu_seconds=3)
    assert limits.command_prefix(prlimit="/usr/bin/prlimit") == (
        "/usr/bin/prlimit",
        f"--as={1024 * 1024}:{1024 * 1024}",
        "--nproc=10:10",
        "--nofile=1024:1024",
        "--cpu=3:4",
        "--",
    )


def test_a_limit_without_prlimit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(LimitsUnavailable, match="prlimit"):
        TaskLimits(open_files=64).command_prefix()


# Run A leaves an escapee (a double fork out of its group) and goes on; run B
# starts and ends meanwhile. B's sweep must leave A's escapee alone, and A's
# end must sweep it.
ESCAPEE_PROBE = """
import asyncio, json, os, tempfile
from processes.group_watchdog import GroupWatchdog
from processes.limits import become_subreaper
from processes.orphans import OrphanSweeper
from processes.spawn import run_process

become_subreaper()

def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False

async def main():
    sweeper = OrphanSweeper(grace_seconds=1)
    watchdog = await GroupWatchdog.start(1, sweeper)
    scratch = tempfile.mkdtemp()
    pidfile, release = f"{scratch}/escapee", f"{scratch}/release"
    async def run(command):
        return await run_process(
            ["/bin/sh", "-c", command], cwd="/", env={"PATH": "/usr/bin:/bin"},
            output_limit=4096, grace_seconds=1, watchdog=watchdog, sweeper=sweeper,
        )
    try:
        a = asyncio.create_task(run(
            f"(setsid sh -c 'echo $$ > {pidfile}; exec sleep 600' &); "
            f"while [ ! -e {release} ]; do sleep 0.05; done"
        ))
        while not os.path.exists(pidfile) or not open(pidfile).read().strip():
            await asyncio.sleep(0.05)
        escapee = int(open(pidfile).read())
        await asyncio.sleep(0.1)  # its parent subshell has exited: it is the worker's child now
        parent = int(open(f"/proc/{escapee}/stat").read().rsplit(")", 1)[1].split()[1])
        b = await run("true")
        after_b = alive(escapee)
        open(release, "w").close()
        await a
        after_a = alive(escapee)
    finally:
        await watchdog.close()
    print(json.dumps([parent == os.getpid(), b.exit_code, after_b, after_a]))

asyncio.run(main())
"""


def test_an_escapee_outlives_another_runs_end_but_not_its_own() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", ESCAPEE_PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    adopted, b_exit, after_b, after_a = json.loads(probe.stdout)
    assert adopted, "the escapee was not reparented to the worker"
    assert b_exit == 0
    assert after_b, "another run's sweep ended a running run's escapee"
    assert not after_a, "the escapee outlived its own run"
