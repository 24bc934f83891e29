"""The API in this process: ``create_app(settings)`` behind Litestar's ``TestClient``.

No uvicorn, no subprocess: requests go through the whole ASGI application
(middleware, guards, handlers, the exception handler) on its own event loop
thread, to a real database and the session's Temporal dev server.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from api.app import create_app
from settings import Settings
from tests.dev_server import DevServer
from tests.helpers import CHEAP_PASSWORD_HASHES, SMALL_DB_POOLS, Api, login


@dataclass
class App:
    """An API application running in this process, and what tests need to reach it."""

    backend: str
    database_url: str
    temporal_address: str
    env: dict[str, str]
    client: TestClient[Litestar]
    tokens: dict[str, str] = field(default_factory=dict)
    """One login per default user and app: each is an Argon2 verification."""

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    @property
    def namespace(self) -> str:
        return self.env["TEMPORAL_NAMESPACE"]

    def api(self, username: str | None = "admin") -> Api:
        """A client as ``username`` (``None``: no credentials) over this app's client."""
        if username is None:
            return Api(self.client)
        if username not in self.tokens:
            self.tokens[username] = login(self.client, username)
        return Api(self.client, token=self.tokens[username])


def app_env(
    data_dir: Path, database_url: str, dev_server: DevServer, namespace: str
) -> dict[str, str]:
    """Settings of an in-process app: rate limits out of reach, as the stack's."""
    return {
        "SCHEDULER_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": dev_server.address,
        "TEMPORAL_NAMESPACE": namespace,
        "SCHEDULER_TASK_QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:6]}",
        "SCHEDULER_CONNECT_RETRY_SECONDS": "30",
        "SCHEDULER_RATE_LIMIT_AUTH": "1000000",
        "SCHEDULER_RATE_LIMIT_TASKS": "1000000",
        "SCHEDULER_RATE_LIMIT_SYSTEM": "1000000",
        "SCHEDULER_METRICS_REFRESH_SECONDS": "1",
        "SCHEDULER_JWT_SECRET": uuid.uuid4().hex,
        **CHEAP_PASSWORD_HASHES,
        **SMALL_DB_POOLS,
    }


@contextmanager
def running_app(
    backend: str,
    database_url: str,
    dev_server: DevServer,
    *,
    env_overrides: Mapping[str, str] | None = None,
) -> Iterator[App]:
    """An app on ``database_url`` (migrated and seeded by its start); stopped on exit."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"scheduler-app-{backend}-"))
    env = app_env(data_dir, database_url, dev_server, dev_server.take_namespace())
    with _serving(backend, {**env, **(env_overrides or {})}) as app:
        yield app


@contextmanager
def another_instance(app: App, env_overrides: Mapping[str, str] | None = None) -> Iterator[App]:
    """A second instance of ``app``: its database, namespace and JWT secret, with
    counters and caches of its own (and ``env_overrides`` in its settings)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"scheduler-app-{app.backend}-"))
    env = {**app.env, "SCHEDULER_DATA_DIR": str(data_dir), **(env_overrides or {})}
    with _serving(app.backend, env) as instance:
        yield instance


@contextmanager
def _serving(backend: str, env: dict[str, str]) -> Iterator[App]:
    # Entering the client runs the app's lifespan: migrations, seeding, connections.
    with TestClient(create_app(Settings.from_env(env)), timeout=30.0) as client:
        yield App(
            backend=backend,
            database_url=env["DATABASE_URL"],
            temporal_address=env["TEMPORAL_ADDRESS"],
            env=env,
            client=client,
        )


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / f'scheduler-{uuid.uuid4().hex[:6]}.db'}"
