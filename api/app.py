"""The Litestar application factory: ``create_app(settings)``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from prometheus_client import CollectorRegistry

from api.auth.api_keys import ApiKeyService
from api.auth.controller import ApiKeyController, AuthController
from api.auth.guards import provide_principal
from api.auth.login_backoff import make_login_backoff
from api.auth.middleware import Authentication
from api.auth.passwords import PasswordHasher
from api.auth.principal import Authenticator
from api.auth.service import AuthService, seed_default_users
from api.auth.tokens import TokenService
from api.codec.controller import codec_decode, codec_preflight, web_ui_origin
from api.docs import docs_assets, docs_renderer
from api.envelope import handle_exception
from api.observability.collector import RUN_BOUNDS, DatabaseSnapshots, SchedulerCollector
from api.observability.metrics import HttpMetrics, MetricsExporter
from api.observability.missed_fires import MissedFireTally
from api.observability.requests import RequestObserver
from api.openapi.document import ApiDocument
from api.pipeline import around_every_request
from api.schedules.controller import ScheduleController
from api.security.content_type import JsonBodiesOnly
from api.security.headers import SecurityHeaders
from api.security.rate_limit import Limits, RateLimiter
from api.security.rate_limit_store import make_store
from api.system.controller import SystemController, health, metrics
from api.system.health import HealthProbe
from api.system.stats import SystemReader
from api.tasks.controller import TaskController, TaskRunController
from api.tasks.fires import FireLedgerReader
from api.tasks.reads import TaskReader
from api.tasks.service import TaskService
from api.tasks.views import TaskViews
from api.tasks.web_ui import WebUi
from api.workers.controller import WorkerController
from api.workers.reads import WorkerReader
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.migrate import migrate
from persistence.run_tally import RunTally
from settings import Settings
from workflows.client import connect
from workflows.payload_codec import PayloadKeyRing, SigningCodec
from workflows.schedules import schedule_manager

log = logging.getLogger(__name__)


def _state_provider(name: str) -> Provide:
    """Inject the service the lifespan put on ``app.state`` under ``name``."""

    def provide(state: State) -> Any:
        return getattr(state, name)

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings) -> Litestar:
    """Build the API; connections are made in the lifespan, kept on ``app.state``."""
    registry = CollectorRegistry()  # this app's metrics only: no process-global registry
    http_metrics = HttpMetrics(registry)
    tokens = TokenService(
        settings.jwt_secret,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.access_token_ttl_seconds,
        settings.refresh_token_ttl_seconds,
    )
    rate_limit_store = make_store(settings.rate_limit_redis_url)
    login_backoff = make_login_backoff(settings.rate_limit_redis_url)
    document = ApiDocument(docs_renderer())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, settings.db_pool_size)
        await wait_for_database(engine, settings.connect_retry_seconds)
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        # Every reader shares one read-only session factory (sessions are per call).
        reads = create_sessionmaker(engine, read_only=True)
        # Lazy: the API starts and answers (503 where Temporal is needed) even
        # while Temporal is still coming up.
        client = await connect(settings, lazy=True)
        hasher = PasswordHasher()
        await seed_default_users(sessions, hasher, settings)
        schedules = schedule_manager(client, settings)
        app.state.authenticator = Authenticator(tokens, sessions, reads)
        app.state.auth_service = AuthService(sessions, tokens, hasher, login_backoff)
        app.state.api_key_service = ApiKeyService(sessions)
        app.state.task_service = TaskService(sessions, client, schedules, settings)
        fire_ledger = FireLedgerReader(
            create_sessionmaker(engine, read_only=True),
            default_catchup_seconds=settings.schedule_catchup_window_seconds,
            run_retention_days=settings.run_retention_days,
        )
        app.state.fire_ledger = fire_ledger
        app.state.task_views = TaskViews(settings.schedule_catchup_window_seconds)
        app.state.task_reader = TaskReader(
            reads,
            schedules,
            WebUi(settings.temporal_ui_url, settings.temporal_namespace),
            fire_ledger,
            app.state.task_views,
        )
        app.state.worker_reader = WorkerReader(reads, settings.worker_liveness_seconds)
        collector = SchedulerCollector()
        registry.register(collector)
        app.state.health_probe = HealthProbe(reads, client)
        app.state.system_reader = SystemReader(reads)
        snapshots = DatabaseSnapshots(
            create_sessionmaker(engine, read_only=True, one_snapshot=True),
            RunTally(RUN_BOUNDS),
            max_age_seconds=settings.metrics_refresh_seconds,
            missed_fires=MissedFireTally(
                settings.schedule_catchup_window_seconds,
                check_every=timedelta(seconds=max(settings.metrics_refresh_seconds, 10)),
            ),
        )
        app.state.metrics_exporter = MetricsExporter(registry, collector, snapshots)
        try:
            yield
        finally:
            await snapshots.close()
            registry.unregister(collector)
            await rate_limit_store.close()
            await login_backoff.close()
            await engine.dispose()

    app = Litestar(
        route_handlers=[
            health,
            metrics,
            SystemController,
            AuthController,
            ApiKeyController,
            TaskController,
            ScheduleController,
            TaskRunController,
            WorkerController,
            codec_preflight,  # before the POST, so Litestar adds no OPTIONS handler of its own
            codec_decode,
            docs_assets(),
        ],
        lifespan=[lifespan],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "auth_service": _state_provider("auth_service"),
            "api_key_service": _state_provider("api_key_service"),
            "task_service": _state_provider("task_service"),
            "task_reader": _state_provider("task_reader"),
            "fire_ledger": _state_provider("fire_ledger"),
            "task_views": _state_provider("task_views"),
            "worker_reader": _state_provider("worker_reader"),
            "health_probe": _state_provider("health_probe"),
            "system_reader": _state_provider("system_reader"),
            "metrics_exporter": _state_provider("metrics_exporter"),
        },
        exception_handlers={Exception: handle_exception},
        openapi_config=document.config,
        plugins=[document.structs],
        request_max_body_size=settings.max_request_body_bytes,
        debug=False,
        logging_config=None,  # the process configures logging once (logging_setup)
    )
    app.state.codec = SigningCodec(
        PayloadKeyRing(settings.payload_keys), encrypt=settings.payload_encryption
    )
    app.state.codec_origin = web_ui_origin(settings.temporal_ui_url)
    document.complete(app)
    limits = Limits(settings.rate_limit_auth, settings.rate_limit_tasks, settings.rate_limit_system)
    return around_every_request(
        app,
        [
            RequestObserver(http_metrics),
            SecurityHeaders(),
            Authentication,
            RateLimiter(limits, rate_limit_store, app.asgi_router),
            JsonBodiesOnly(),
        ],
    )
