"""The Litestar application factory: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import ControllerRouterHandler
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.apply.controller import TaskApplyController
from api.apply.service import ApplyService
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
from api.console.cookies import SessionCookies
from api.console.errors import handle_any
from api.console.render import Console
from api.console.routes import console_routes
from api.console.session import secure_cookies
from api.console.templating import template_config
from api.disconnect import ClientGone, client_gone
from api.docs import docs_assets, docs_renderer
from api.notifications.controller import NotificationChannelController
from api.notifications.service import NotificationChannelService
from api.observability.collector import RUN_BOUNDS, DatabaseSnapshots, SchedulerCollector
from api.observability.late_fires import LateFireTally
from api.observability.metrics import HttpMetrics, MetricsExporter, open_waits_gauge
from api.observability.missed_fires import MissedFireTally
from api.observability.requests import RequestObserver
from api.openapi.document import ApiDocument
from api.pipeline import Middleware, around_every_request
from api.schedules.controller import ScheduleController
from api.secrets.controller import SecretController
from api.secrets.service import SecretService
from api.security.content_type import JsonBodiesOnly
from api.security.headers import SecurityHeaders
from api.security.rate_limit import Limits, RateLimiter
from api.security.rate_limit_store import CounterStore, make_store
from api.system.activity import ActivityReader
from api.system.controller import SystemController, health, metrics
from api.system.health import HealthProbe
from api.system.stats import SystemReader
from api.tasks.controller import TaskController, TaskRunController
from api.tasks.fires import FireLedgerReader
from api.tasks.overview import TaskOverviews
from api.tasks.reads import TaskReader
from api.tasks.run_wait import RunWaiter
from api.tasks.service import TaskService
from api.tasks.views import TaskViews
from api.users.controller import UserController
from api.users.service import UserService
from api.workers.controller import WorkerController
from api.workers.reads import WorkerReader
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.fire_ledger import LedgerDefaults
from persistence.migrate import migrate
from persistence.run_end_listener import RunEndListener
from persistence.run_tally import RunTally
from persistence.secret_sealing import SecretSealer
from settings import Settings
from workflows.client import connect
from workflows.payload_codec import PayloadKeyRing, SigningCodec
from workflows.schedules import schedule_manager
from workflows.web_ui import WebUi

ROUTES: list[ControllerRouterHandler] = [
    health,
    metrics,
    SystemController,
    AuthController,
    ApiKeyController,
    TaskApplyController,  # before TaskController: its static paths beside /{task_id}
    TaskController,
    ScheduleController,
    TaskRunController,
    WorkerController,
    UserController,
    SecretController,
    NotificationChannelController,
    codec_preflight,  # before the POST, so Litestar adds no OPTIONS handler of its own
    codec_decode,
]

SERVICES = (
    "auth_service",
    "api_key_service",
    "user_service",
    "task_service",
    "apply_service",
    "secret_service",
    "notification_channels",
    "task_reader",
    "run_waiter",
    "task_overviews",
    "fire_ledger",
    "task_views",
    "worker_reader",
    "health_probe",
    "system_reader",
    "activity_reader",
    "metrics_exporter",
)
"""What the lifespan puts on ``app.state``; handlers receive each under its name."""

Sessions = async_sessionmaker[AsyncSession]


def create_app(settings: Settings) -> Litestar:
    """Build the API; connections are made in the lifespan, kept on ``app.state``."""
    registry = CollectorRegistry()  # this app's metrics only: no process-global registry
    rate_limit_store = make_store(settings.rate_limit_redis_url)
    document = ApiDocument(docs_renderer())
    app = Litestar(
        route_handlers=[*ROUTES, docs_assets(), *console_routes()],
        lifespan=[_lifespan(settings, registry, rate_limit_store)],
        dependencies=_dependencies(),
        exception_handlers={ClientGone: client_gone, Exception: handle_any},
        openapi_config=document.config,
        plugins=[document.structs],
        template_config=template_config(),
        request_max_body_size=settings.max_request_body_bytes,
        debug=False,
        logging_config=None,  # the process configures logging once (logging_setup)
    )
    app.state.codec = SigningCodec(
        PayloadKeyRing(settings.payload_keys), encrypt=settings.payload_encryption
    )
    app.state.codec_origin = web_ui_origin(settings.temporal_ui_url)
    document.complete(app)
    return around_every_request(app, _middleware(app, settings, registry, rate_limit_store))


def stop_run_waits(app: Litestar) -> None:
    """Answer every open run wait now, as its run is: the API is stopping."""
    waiter = getattr(app.state, "run_waiter", None)
    if isinstance(waiter, RunWaiter):
        waiter.stop()


def _middleware(
    app: Litestar, settings: Settings, registry: CollectorRegistry, rate_limit_store: CounterStore
) -> list[Middleware]:
    """Outermost first: what every request passes through (see ``api.pipeline``)."""
    limits = Limits(settings.rate_limit_auth, settings.rate_limit_tasks, settings.rate_limit_system)
    return [
        RequestObserver(HttpMetrics(registry)),
        SecurityHeaders(),
        Authentication,
        RateLimiter(limits, rate_limit_store, app.asgi_router),
        JsonBodiesOnly(),
    ]


def _dependencies() -> dict[str, Provide]:
    services = {name: _state_provider(name) for name in SERVICES}
    return {"principal": Provide(provide_principal, sync_to_thread=False), **services}


def _state_provider(name: str) -> Provide:
    """Inject the service the lifespan put on ``app.state`` under ``name``."""

    def provide(state: State) -> Any:
        return getattr(state, name)

    return Provide(provide, sync_to_thread=False)


def _lifespan(
    settings: Settings, registry: CollectorRegistry, rate_limit_store: CounterStore
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Connect, put the services on ``app.state``, and close it all again at shutdown."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with _database(settings) as engine:
            # On Postgres the waiters of a run hear of its end from the database.
            ends = RunEndListener(engine)
            try:
                ends.start()
                client = await _temporal_client(settings)
                sessions = create_sessionmaker(engine)
                # Every reader shares one read-only session factory (sessions are per call).
                reads = create_sessionmaker(engine, read_only=True)
                async with _serve_auth(app.state, settings, sessions, reads):
                    _serve_tasks(app.state, settings, sessions, reads, client, ends)
                    async with _serve_monitoring(
                        app.state, settings, engine, reads, client, registry
                    ):
                        yield
            finally:
                await ends.close()
                await rate_limit_store.close()

    return lifespan


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The database, once it answers, migrated to the current schema."""
    engine = create_engine(settings.database_url, settings.db_pool_size)
    try:
        await wait_for_database(engine, settings.connect_retry_seconds)
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


async def _temporal_client(settings: Settings) -> Client:
    # Lazy: the API starts and answers (503 where Temporal is needed) even
    # while Temporal is still coming up.
    return await connect(settings, lazy=True)


@asynccontextmanager
async def _serve_auth(
    state: State, settings: Settings, sessions: Sessions, reads: Sessions
) -> AsyncIterator[None]:
    """Sign-in, tokens and API keys; the default accounts when there is no user yet."""
    tokens = TokenService(
        settings.jwt_secret,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.access_token_ttl_seconds,
        settings.refresh_token_ttl_seconds,
    )
    hasher = PasswordHasher(
        rounds=settings.password_hash_rounds, memory_kib=settings.password_hash_memory_kib
    )
    await seed_default_users(sessions, hasher, settings)
    state.authenticator = Authenticator(tokens, sessions, reads)
    login_backoff = make_login_backoff(settings.rate_limit_redis_url)
    state.auth_service = AuthService(sessions, tokens, hasher, login_backoff)
    state.console = Console(
        cookies=SessionCookies(
            secure=secure_cookies(settings.public_url), max_age=settings.access_token_ttl_seconds
        ),
        csrf_secret=settings.jwt_secret,
        auth_service=state.auth_service,
        backfill_max_fires=settings.backfill_max_fires,
    )
    state.api_key_service = ApiKeyService(sessions)
    state.user_service = UserService(sessions, hasher)
    try:
        yield
    finally:
        await login_backoff.close()


def _serve_tasks(
    state: State,
    settings: Settings,
    sessions: Sessions,
    reads: Sessions,
    client: Client,
    ends: RunEndListener,
) -> None:
    """Task writes (database and schedule together), task and run reads, workers."""
    schedules = schedule_manager(client, settings)
    state.task_service = TaskService(sessions, client, schedules, settings)
    state.apply_service = ApplyService(sessions, client, schedules, settings)
    state.secret_service = SecretService(sessions, SecretSealer(settings.payload_keys))
    state.notification_channels = NotificationChannelService(
        sessions, client, SecretSealer(settings.payload_keys), settings
    )
    state.fire_ledger = FireLedgerReader(
        reads,
        defaults=LedgerDefaults.of(settings),
        run_retention_days=settings.run_retention_days,
    )
    state.task_views = TaskViews(settings.schedule_catchup_window_seconds)
    ui = WebUi(settings.temporal_ui_url, settings.temporal_namespace)
    state.task_reader = TaskReader(reads, schedules, ui, state.fire_ledger, state.task_views)
    state.run_waiter = RunWaiter(reads, client, ui, ends)
    state.task_overviews = TaskOverviews(reads)
    state.worker_reader = WorkerReader(reads, settings.worker_liveness_seconds)


@asynccontextmanager
async def _serve_monitoring(
    state: State,
    settings: Settings,
    engine: AsyncEngine,
    reads: Sessions,
    client: Client,
    registry: CollectorRegistry,
) -> AsyncIterator[None]:
    """Health, system statistics and ``/metrics`` (its database figures as a snapshot)."""
    state.health_probe = HealthProbe(reads, client)
    state.system_reader = SystemReader(reads)
    state.activity_reader = ActivityReader(reads)
    collector = SchedulerCollector()
    snapshots = DatabaseSnapshots(
        create_sessionmaker(engine, read_only=True, one_snapshot=True),
        RunTally(RUN_BOUNDS),
        interval_seconds=settings.metrics_refresh_seconds,
        late_fires=LateFireTally(),
        worker_liveness_seconds=settings.worker_liveness_seconds,
        missed_fires=MissedFireTally(
            LedgerDefaults.of(settings),
            check_every=timedelta(seconds=max(settings.metrics_refresh_seconds, 10)),
        ),
    )
    registry.register(collector)
    waits = open_waits_gauge(registry, state.run_waiter)
    state.metrics_exporter = MetricsExporter(registry, collector, snapshots)
    snapshots.start()
    try:
        yield
    finally:
        await snapshots.close()
        registry.unregister(waits)
        registry.unregister(collector)
