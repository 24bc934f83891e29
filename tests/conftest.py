"""Session fixtures: a real stack (Temporal dev server, API, orchestrator, shell worker),
and the API in this process (``app``) beside one shared Temporal dev server.

Both run once per database backend: SQLite always, and Postgres as well when
``SCHEDULER_TEST_DATABASE_URL`` names a server (a fresh database is created on
it for the session and dropped afterwards). Each process keeps at most one
stack and one app per backend for its whole session (``StackPool``,
``AppPool``): every module's tests share them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy.engine import make_url
from temporalio.client import Client

import devstack
from tests import ports
from tests.dev_server import DevServer, running_dev_server
from tests.helpers import CHEAP_PASSWORD_HASHES, SMALL_DB_POOLS, Api, login
from tests.in_process import App, running_app, sqlite_url
from tests.prometheus import find_promtool
from tests.task_files import remove, task_dir

POSTGRES_URL = os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
EXECUTOR_TYPES = ("shell", "http", "python")
# Tests marked one_backend test no SQL dialect (the auth matrix, rate limits, the
# executors, logs, the cron fire): they run once, on Postgres when the suite has
# it, to keep CI short.
PRIMARY_BACKEND = BACKENDS[-1]


def pytest_configure(config: pytest.Config) -> None:
    # devstack chooses the stack's ports; under xdist each worker needs its own
    # range, or two workers' stacks can be handed the same port (tests/ports.py).
    devstack.free_port = ports.free_port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        backend = params.get("stack", params.get("app"))
        if item.get_closest_marker("one_backend") and backend not in (None, PRIMARY_BACKEND):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@dataclass
class Stack:
    """A running stack and what tests need to reach it."""

    backend: str
    base_url: str
    database_url: str
    temporal_address: str
    queue_prefix: str
    data_dir: Path
    """The scheduler's own (0700): tasks cannot reach it."""
    env: dict[str, str]
    task_dir: Path
    """Owned by the task user: scripts, working directories and files tasks write."""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    """One login per default user and stack: each is an Argon2 verification."""

    def api(self, username: str | None = "admin") -> Api:
        if username is None:
            return Api(self.base_url)
        if username not in self.tokens:
            with httpx.Client(base_url=self.base_url, timeout=30.0) as http:
                self.tokens[username] = login(http, username)
        return Api(self.base_url, token=self.tokens[username])

    def log_file(self, name: str) -> IO[bytes]:
        """An append-mode log for one process; closed when the stack stops."""
        handle = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed at teardown
        self.logs.append(handle)
        return handle

    def start(self, name: str, script: str, *args: str) -> subprocess.Popen[bytes]:
        """Start (or restart) one of the stack's Python processes under ``name``."""
        process = devstack.start_python(script, list(args), self.env, self.log_file(name))
        self.processes[name] = process
        return process

    async def temporal_client(self) -> Client:
        """A client of the stack's Temporal holding the stack's payload key, as our processes do."""
        from settings import Settings
        from workflows.client import connect

        return await connect(Settings.from_env(self.env), within_seconds=30)

    def start_temporal(self) -> None:
        """Start (or restart) the dev server on the stack's port and database file."""
        from settings import Settings

        settings = Settings.from_env(self.env)
        self.processes["temporal"] = devstack.start_temporal(
            settings, output=self.log_file("temporal")
        )
        devstack.wait_for_port("127.0.0.1", settings.temporal_port, 60)


def run_admin_sql(admin_url: str, statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE: outside a transaction) on the Postgres server."""
    import asyncpg

    async def main() -> None:
        url = make_url(admin_url)
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            database=url.database,
        )
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(main())


@contextmanager
def empty_postgres_database(prefix: str) -> Iterator[str]:
    """A new database on the suite's Postgres server (its URL), dropped with its connections."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    run_admin_sql(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        run_admin_sql(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stack_env(
    data_dir: Path, database_url: str, temporal_port: int, api_port: int
) -> dict[str, str]:
    """The environment of every process of a test stack: small intervals, own ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCHEDULER_", "TEMPORAL_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "SCHEDULER_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "SCHEDULER_API_PORT": str(api_port),
            "SCHEDULER_TASK_QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:6]}",
            "SCHEDULER_RETRY_INITIAL_INTERVAL_SECONDS": "0.2",
            "SCHEDULER_RETRY_MAXIMUM_INTERVAL_SECONDS": "1",
            "SCHEDULER_HEARTBEAT_TIMEOUT_SECONDS": "5",
            "SCHEDULER_KILL_GRACE_SECONDS": "1",
            "SCHEDULER_WORKER_DRAIN_SECONDS": "5",
            "SCHEDULER_CONNECT_RETRY_SECONDS": "30",
            "SCHEDULER_DEPENDENCY_RECHECK_SECONDS": "2",
            "SCHEDULER_RECONCILE_INTERVAL_SECONDS": "2",
            "SCHEDULER_RECONCILE_SETTLE_SECONDS": "3",
            "SCHEDULER_WORKER_HEARTBEAT_SECONDS": "1",
            "SCHEDULER_NOTIFY_RETRY_INITIAL_INTERVAL_SECONDS": "0.2",
            "SCHEDULER_NOTIFY_RETRY_MAXIMUM_INTERVAL_SECONDS": "1",
            # The suite makes thousands of requests; rate limits get their own API instances.
            "SCHEDULER_RATE_LIMIT_AUTH": "1000000",
            "SCHEDULER_RATE_LIMIT_TASKS": "1000000",
            "SCHEDULER_RATE_LIMIT_SYSTEM": "1000000",
            "SCHEDULER_WORKER_LIVENESS_SECONDS": "4",
            "SCHEDULER_METRICS_REFRESH_SECONDS": "1",
            "SCHEDULER_JWT_SECRET": uuid.uuid4().hex,
            **CHEAP_PASSWORD_HASHES,
            **SMALL_DB_POOLS,
        }
    )
    return env


@contextmanager
def running_stack(
    backend: str,
    database_port: int | None = None,
    *,
    postgres_url: str = "",
    env_overrides: Mapping[str, str] | None = None,
    workers: bool = True,
    executors: Sequence[str] = EXECUTOR_TYPES,
) -> Iterator[Stack]:
    """A whole stack on its own ports, data dir and database; stopped on exit.

    ``database_port`` (Postgres only) makes every process reach the database
    through that local port instead, e.g. a proxy a fault test can cut.
    ``postgres_url`` replaces ``SCHEDULER_TEST_DATABASE_URL``, ``env_overrides``
    change the processes' settings, and ``workers=False`` starts only the dev
    server and the API (the benchmarks use these). ``executors`` names the task
    types that get a worker (a private stack starts only those its tests run).
    """
    admin_url = postgres_url or POSTGRES_URL
    tmp = Path(tempfile.mkdtemp(prefix=f"scheduler-{backend}-"))
    db_name = f"scheduler_test_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        run_admin_sql(admin_url, f'CREATE DATABASE "{db_name}"')
        pg = make_url(admin_url).set(drivername="postgresql+asyncpg", database=db_name)
        if database_port is not None:
            pg = pg.set(host="127.0.0.1", port=database_port)
        database_url = pg.render_as_string(hide_password=False)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'scheduler.db'}"
    temporal_port, api_port = devstack.free_port(), devstack.free_port()
    env = stack_env(tmp, database_url, temporal_port, api_port)
    # The dev server serves its Web UI too, so runs carry links into it.
    ui_port = devstack.free_port()
    env["SCHEDULER_TEMPORAL_UI_PORT"] = str(ui_port)
    env["SCHEDULER_TEMPORAL_UI_URL"] = f"http://127.0.0.1:{ui_port}"
    env.update(env_overrides or {})
    stack = Stack(
        backend=backend,
        base_url=f"http://127.0.0.1:{api_port}",
        database_url=database_url,
        temporal_address=env["TEMPORAL_ADDRESS"],
        queue_prefix=env["SCHEDULER_TASK_QUEUE_PREFIX"],
        data_dir=tmp,
        env=env,
        task_dir=task_dir(f"scheduler-{backend}-tasks-"),
    )
    try:
        stack.start_temporal()
        if workers:
            stack.start("orchestrator", "worker_main.py", "--orchestrator")
            for task_type in executors:
                stack.start(task_type, "worker_main.py", "--task-type", task_type)
        stack.start("api", "api_main.py")
        devstack.wait_for_http(f"{stack.base_url}/health", 90, stack.processes["api"])
        yield stack
    finally:
        # Everything but Temporal at once (each worker drains on its own), then Temporal.
        others = [p for name, p in stack.processes.items() if name != "temporal"]
        with ThreadPoolExecutor(max_workers=max(1, len(others))) as pool:
            list(pool.map(lambda process: devstack.stop(process, within_seconds=20), others))
        if "temporal" in stack.processes:
            devstack.stop(stack.processes["temporal"], within_seconds=20)
        for handle in stack.logs:
            handle.close()
        remove(stack.task_dir)
        if backend == "postgres":
            run_admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.fixture
def task_tmp() -> Iterator[Path]:
    """A directory of the test's own that task processes may read and write."""
    path = task_dir()
    yield path
    remove(path)


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The Temporal dev server of every in-process app and worker of the session."""
    with running_dev_server(tmp_path_factory.mktemp("dev-server")) as server:
        yield server


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database of ``backend``, dropped afterwards (Postgres)."""
    if backend == "postgres":
        with empty_postgres_database("scheduler_app") as url:
            yield url
    else:
        yield sqlite_url(directory)


class AppPool:
    """At most one in-process app per backend, on a fresh database, started on first use
    (kept for the session as ``StackPool`` keeps stacks)."""

    def __init__(
        self, exits: ExitStack, dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        self._exits = exits
        self._dev_server = dev_server
        self._tmp_path_factory = tmp_path_factory
        self._apps: dict[str, App] = {}

    def get(self, backend: str) -> App:
        if backend not in self._apps:
            directory = self._tmp_path_factory.mktemp(f"app-{backend}")
            url = self._exits.enter_context(fresh_database(backend, directory))
            self._apps[backend] = self._exits.enter_context(
                running_app(backend, url, self._dev_server)
            )
        return self._apps[backend]


@pytest.fixture(scope="session")
def app_pool(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppPool]:
    """The session's in-process apps, stopped at its end."""
    with ExitStack() as exits:
        yield AppPool(exits, dev_server, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request: pytest.FixtureRequest, app_pool: AppPool) -> App:
    """The session's API in this process on each backend (other modules' rows are in it)."""
    return app_pool.get(request.param)


class StackPool:
    """At most one running stack per backend in this process, started on first use.

    pytest keeps one instance of a parametrized session fixture at a time, so
    ``stack`` alone would stop and start a stack whenever the backend changes:
    under ``--dist loadfile`` that is twice per module. The pool outlives those
    switches; tests on a pooled stack judge only the rows they created.
    """

    def __init__(self, exits: ExitStack) -> None:
        self._exits = exits
        self._stacks: dict[str, Stack] = {}

    def get(self, backend: str) -> Stack:
        if backend not in self._stacks:
            self._stacks[backend] = self._exits.enter_context(running_stack(backend))
        return self._stacks[backend]


@pytest.fixture(scope="session")
def stack_pool() -> Iterator[StackPool]:
    """The session's stacks, stopped at its end."""
    with ExitStack() as exits:
        yield StackPool(exits)


@pytest.fixture(scope="session", params=BACKENDS)
def stack(request: pytest.FixtureRequest, stack_pool: StackPool) -> Stack:
    """The session's shared stack of each backend (other modules' rows are in it too)."""
    return stack_pool.get(request.param)


@pytest.fixture
def admin(stack: Stack) -> Iterator[Api]:
    api = stack.api("admin")
    yield api
    api.close()


@pytest.fixture
def viewer(stack: Stack) -> Iterator[Api]:
    api = stack.api("viewer")
    yield api
    api.close()


@pytest.fixture
def operator(stack: Stack) -> Iterator[Api]:
    api = stack.api("operator")
    yield api
    api.close()


@pytest.fixture
def anonymous(stack: Stack) -> Iterator[Api]:
    api = stack.api(None)
    yield api
    api.close()


@pytest.fixture(scope="session")
def promtool(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``$PROMTOOL``, else promtool on the PATH, else downloaded; never skipped."""
    return find_promtool(tmp_path_factory.mktemp("promtool"))
