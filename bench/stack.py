"""The stack a benchmark measures, and an async client for its API.

The stack is the test suite's (``tests.conftest.running_stack``: Temporal dev
server, API, orchestrator and the shell/http/python workers on free ports with
a temporary data dir and, on Postgres, a fresh database dropped afterwards),
with the production intervals put back where the tests shorten them, so the
figures describe the scheduler as deployed rather than as tested.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.report import RESULTS_DIR
from tests.conftest import Stack, running_stack

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
UNLIMITED = str(10**9)

# The test stack shortens every interval so tests finish fast; a benchmark
# measures the deployed defaults (a dependency hand-off must come from the
# completion signal, not from a 2 s re-check), with the rate limits out of the way.
BENCH_ENV = {
    "SCHEDULER_RATE_LIMIT_AUTH": UNLIMITED,
    "SCHEDULER_RATE_LIMIT_TASKS": UNLIMITED,
    "SCHEDULER_RATE_LIMIT_SYSTEM": UNLIMITED,
    "SCHEDULER_DEPENDENCY_RECHECK_SECONDS": "30",
    "SCHEDULER_RECONCILE_INTERVAL_SECONDS": "30",
    "SCHEDULER_RECONCILE_SETTLE_SECONDS": "30",
    "SCHEDULER_WORKER_HEARTBEAT_SECONDS": "5",
    "SCHEDULER_WORKER_LIVENESS_SECONDS": "30",
    "SCHEDULER_HEARTBEAT_TIMEOUT_SECONDS": "10",
    # The test stacks' 2 connections per process would make the closed loops
    # queue for connections (and open and close overflow ones) on every run.
    "SCHEDULER_DB_POOL_SIZE": "10",
}

TERMINAL = frozenset({"Completed", "Failed", "Timeout"})


def add_stack_arguments(parser: argparse.ArgumentParser, default_backend: str = "postgres") -> None:
    """Options every benchmark has: where the stack's database lives, where results go."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where <benchmark>.json is written (default bench/results)",
    )
    parser.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default=default_backend,
        help=f"mirror database (default {default_backend})",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip() or DEFAULT_POSTGRES_URL,
        help="server on which a fresh database is created and dropped"
        " (default $SCHEDULER_TEST_DATABASE_URL or %(default)s)",
    )


class _SharedStacks:
    """The stacks kept open by ``shared_stacks``, one per kind of stack."""

    def __init__(self, exits: ExitStack) -> None:
        self.exits = exits
        self.stacks: dict[tuple[str, str, bool], Stack] = {}


_shared: _SharedStacks | None = None


@contextmanager
def shared_stacks() -> Iterator[None]:
    """Inside it, benchmarks that ask for the same kind of stack (backend, database
    server, workers or not, no settings of their own) run on one: the first of them
    starts it, and it stops when this exits. For the smoke run (``bench.smoke``),
    whose figures mean nothing; a benchmark's real figures come from a stack of its own."""
    global _shared
    previous = _shared
    with ExitStack() as exits:
        _shared = _SharedStacks(exits)
        try:
            yield
        finally:
            _shared = previous


@contextmanager
def bench_stack(
    args: argparse.Namespace,
    *,
    workers: bool = True,
    env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """A whole stack for one benchmark; every process stopped and its data dir removed on exit,
    also when the benchmark is stopped with SIGTERM (``kill``, ``timeout``). Within
    ``shared_stacks``, the kind's shared stack (started now if it is the first)."""
    if _shared is not None and not env:
        key = (args.backend, args.postgres_url, workers)
        if key not in _shared.stacks:
            _shared.stacks[key] = _shared.exits.enter_context(_own_stack(args, workers, None))
        yield _shared.stacks[key]
        return
    with _own_stack(args, workers, env) as stack:
        yield stack


@contextmanager
def _own_stack(
    args: argparse.Namespace, workers: bool, env: Mapping[str, str] | None
) -> Iterator[Stack]:
    overrides = {**BENCH_ENV, **(env or {})}
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with running_stack(
            args.backend, postgres_url=args.postgres_url, env_overrides=overrides, workers=workers
        ) as stack:
            try:
                yield stack
            finally:
                data_dir = stack.data_dir
        shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds through the context managers, which stop the stack.
    raise SystemExit(128 + signum)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class ApiClient:
    """``httpx.AsyncClient`` logged in as admin; every call checks its status code."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, headers=self.auth, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()["data"]

    async def create_task(self, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": unique("bench"),
            "task_type": "shell",
            "schedule": "0 0 1 1 *",
            "parameters": {"command": "true"},
        }
        body.update(fields)
        task: dict[str, Any] = await self.call("POST", "/api/tasks", 201, json=body)
        return task

    async def trigger(self, task_id: int) -> int:
        data = await self.call("POST", f"/api/tasks/{task_id}/trigger", 201)
        run_id: int = data["task_run_id"]
        return run_id

    async def run(self, run_id: int) -> dict[str, Any]:
        run: dict[str, Any] = await self.call("GET", f"/api/task-runs/{run_id}")
        return run

    async def runs_page(
        self, task_id: int, page: int, page_size: int = 100, status: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if status is not None:
            params["status"] = status
        data: dict[str, Any] = await self.call("GET", f"/api/tasks/{task_id}/runs", params=params)
        return data

    async def all_runs(self, task_id: int) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        page = 1
        while True:
            data = await self.runs_page(task_id, page)
            runs.extend(data["items"])
            if page >= data["total_pages"]:
                return runs
            page += 1

    async def wait_for_run(
        self, run_id: int, within: float = 120.0, interval: float = 0.05
    ) -> dict[str, Any]:
        """The run once it is final."""
        async with asyncio.timeout(within):
            while True:
                run = await self.run(run_id)
                if run["status"] in TERMINAL:
                    return run
                await asyncio.sleep(interval)


@asynccontextmanager
async def api_client(base_url: str, connections: int = 100) -> AsyncIterator[ApiClient]:
    """Logged in as the seeded admin (the test stack keeps the documented passwords)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as http:
        response = await http.post(
            "/api/auth/login", json={"username": "admin", "password": "admin123"}
        )
        response.raise_for_status()
        yield ApiClient(http, response.json()["data"]["access_token"])


async def settle(api: ApiClient, task_id: int, runs: int = 5) -> None:
    """Trigger and wait for a few runs, so workers poll and pools are warm before measuring."""
    for _ in range(runs):
        run = await api.wait_for_run(await api.trigger(task_id))
        if run["status"] != "Completed":
            raise RuntimeError(f"warm-up run ended {run['status']}: {run.get('error_message')}")
