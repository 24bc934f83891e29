"""The embedded stack at rest: RSS summed over ``devstack.py``'s process tree, tasks defined.

    .venv/bin/python -m bench.idle_footprint --tasks 100

Starts ``devstack.py`` (what ``make run`` runs, without ``make`` itself) on
free ports with a temporary data dir, creates ``--tasks`` shell tasks through
the API (daily crons that do not fire meanwhile), runs one of them to its
end (``?wait=``: the stack works), lets the stack settle for
``--settle`` seconds, then reads every process of the tree: its RSS (what the
issue's target counts; shared pages count once per process), its PSS
(shared pages split between the processes sharing them) and its anonymous
memory (heaps and stacks). RSS also counts the pages of the files a process
maps, which depend on the page cache more than on the process: the same
idle dev server maps 94 or 131 MiB of its 156 MB binary depending on how the
kernel cached that file, while its anonymous memory stays the same.

``--python`` runs the stack with another interpreter: the one of a
runtime-only environment (``make install`` in a fresh clone, which is what
``make run`` creates) measures what a new user's ``make run`` holds; this
benchmark's own environment also has the dev extras, some of which the
stack's libraries load when they are installed (pydantic, through Litestar).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import devstack
from bench.report import RESULTS_DIR, Report
from bench.stack import UNLIMITED

TARGET_MIB = 450


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def memory_kib(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, anonymous) of a live process in KiB; zeros once it is gone."""
    found = {"Rss:": 0, "Pss:": 0, "Anonymous:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in found:
                found[key] = int(value.split()[0])
    except OSError:
        return 0, 0, 0
    return found["Rss:"], found["Pss:"], found["Anonymous:"]


def describe(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [Path(argv[0].decode()).name] + [word.decode() for word in argv[1:] if word]
    for script in ("devstack.py", "worker_main.py", "api_main.py", "watchdog_process"):
        for index, word in enumerate(words):
            if word.endswith(script):
                return " ".join([Path(word).name, *words[index + 1 :]])[:80]
    return " ".join(words)[:80]


def create_tasks(base_url: str, count: int) -> None:
    """``count`` shell tasks, and one run of the first to its end (the stack works)."""
    with httpx.Client(base_url=base_url, timeout=120.0) as http:
        login = http.post("/api/auth/login", json={"username": "admin", "password": "admin123"})
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
        for index in range(count):
            response = http.post(
                "/api/tasks",
                headers=headers,
                json={
                    "name": f"idle-{index}",
                    "task_type": "shell",
                    # Daily, at a minute away from now: none fires while measured.
                    "schedule": f"{(int(time.time() // 60) + 30) % 60} {index % 24} * * *",
                    "parameters": {"command": "true"},
                },
            )
            if response.status_code != 201:
                raise RuntimeError(f"task create: {response.status_code} {response.text[:300]}")
            if index == 0:
                first = response.json()["data"]["id"]
        ran = http.post(f"/api/tasks/{first}/trigger", headers=headers, params={"wait": 90})
        run = ran.json()["data"].get("run") or {}
        if ran.status_code != 201 or run.get("status") != "Completed":
            raise RuntimeError(f"the stack did not run a task: {ran.status_code} {ran.text[:300]}")


def measure(args: argparse.Namespace, report: Report) -> None:
    data = Path(tempfile.mkdtemp(prefix="scheduler-idle-"))
    temporal_port, api_port, ui_port = (devstack.free_port() for _ in range(3))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "TEMPORAL_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "SCHEDULER_DATA_DIR": str(data),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "SCHEDULER_API_PORT": str(api_port),
            "SCHEDULER_TEMPORAL_UI_PORT": str(ui_port),
            # 100 creates in a minute are over the default per-user limit.
            "SCHEDULER_RATE_LIMIT_TASKS": UNLIMITED,
        }
    )
    with open(data / "devstack.log", "wb") as log:
        stack = subprocess.Popen(
            [args.python, str(devstack.ROOT / "devstack.py")],
            env=env,
            cwd=str(devstack.ROOT),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{api_port}"
        devstack.wait_for_http(f"{base}/health", 180, stack)
        create_tasks(base, args.tasks)
        time.sleep(args.settle)
        rows = []
        for pid in descendants(stack.pid):
            rss, pss, anonymous = memory_kib(pid)
            if rss:
                rows.append((describe(pid), rss, pss, anonymous))
    finally:
        devstack.stop(stack, within_seconds=60)
        shutil.rmtree(data, ignore_errors=True)
    total_rss = sum(row[1] for row in rows) / 1024
    total_pss = sum(row[2] for row in rows) / 1024
    total_anonymous = sum(row[3] for row in rows) / 1024
    report.add("processes in devstack's tree", len(rows), "")
    report.add(
        "RSS summed over the tree",
        total_rss,
        "MiB",
        target=f"<= {TARGET_MIB} MiB",
        met=total_rss <= TARGET_MIB,
    )
    report.add("PSS summed over the tree", total_pss, "MiB")
    report.add("anonymous memory summed over the tree", total_anonymous, "MiB")
    for name, rss, pss, anonymous in sorted(rows, key=lambda row: -row[1]):
        report.note(
            f"{rss / 1024:7.1f} MiB RSS {pss / 1024:7.1f} PSS {anonymous / 1024:7.1f} anonymous"
            f"  {name}"
        )
    report.details = {
        "processes": [
            {"name": n, "rss_kib": r, "pss_kib": p, "anonymous_kib": a} for n, r, p, a in rows
        ]
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100, help="tasks defined (default 100)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds at rest (default 30)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="(bench/results)")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter that runs devstack.py (default this one)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report(
        "idle_footprint", {"tasks": args.tasks, "settle": args.settle, "python": args.python}
    )
    measure(args, report)
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
