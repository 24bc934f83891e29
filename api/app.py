"""The Litestar application factory: ``create_app(settings)``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from temporalio.client import Client

from api.auth.controller import AuthController
from api.auth.guards import provide_principal
from api.auth.passwords import PasswordHasher
from api.auth.principal import Authenticator
from api.auth.service import AuthService, seed_default_users
from api.auth.tokens import TokenService
from api.envelope import handle_exception
from api.system.controller import health
from api.tasks.controller import TaskController, TaskRunController
from api.tasks.reads import TaskReader
from api.tasks.service import TaskService
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.migrate import migrate
from settings import Settings
from workflows.schedules import ScheduleManager, SchedulePolicyConfig

log = logging.getLogger(__name__)


def _state_provider(name: str) -> Provide:
    """Inject the service the lifespan put on ``app.state`` under ``name``."""

    def provide(state: State) -> Any:
        return getattr(state, name)

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings) -> Litestar:
    """Build the API; connections are made in the lifespan, kept on ``app.state``."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, settings.db_pool_size)
        await wait_for_database(engine, settings.connect_retry_seconds)
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        # Lazy: the API starts and answers (503 where Temporal is needed) even
        # while Temporal is still coming up.
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, lazy=True
        )
        hasher = PasswordHasher()
        tokens = TokenService(
            settings.jwt_secret,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl_seconds,
            settings.refresh_token_ttl_seconds,
        )
        await seed_default_users(sessions, hasher, settings)
        schedules = ScheduleManager(
            client,
            SchedulePolicyConfig(
                orchestrator_queue=settings.orchestrator_queue,
                catchup_window_seconds=settings.schedule_catchup_window_seconds,
            ),
        )
        app.state.authenticator = Authenticator(tokens, sessions)
        app.state.auth_service = AuthService(sessions, tokens, hasher)
        app.state.task_service = TaskService(sessions, client, schedules, settings)
        app.state.task_reader = TaskReader(create_sessionmaker(engine, read_only=True))
        try:
            yield
        finally:
            await engine.dispose()

    return Litestar(
        route_handlers=[health, AuthController, TaskController, TaskRunController],
        lifespan=[lifespan],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "auth_service": _state_provider("auth_service"),
            "task_service": _state_provider("task_service"),
            "task_reader": _state_provider("task_reader"),
        },
        exception_handlers={Exception: handle_exception},
        openapi_config=OpenAPIConfig(
            title="Temporal task scheduler",
            version="1.0.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        request_max_body_size=settings.max_request_body_bytes,
        debug=False,
    )
