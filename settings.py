"""The one typed settings object, read from the environment once and passed down.

Every port, limit and interval the design names is a field here, under the
environment variable the design fixes, so tests and benchmarks can change them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from domain.parameters import ParameterRules

TASK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""The ``PATH`` task processes start with."""


def _default_interpreters() -> tuple[str, ...]:
    """The ``python3`` a task gets when it names none: the one on the tasks' ``PATH``."""
    found = shutil.which("python3", path=TASK_PATH)
    return (found,) if found else ()


class SettingsError(ValueError):
    """An environment variable holds a value the scheduler cannot use."""


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _limit(env: Mapping[str, str], name: str) -> int | None:
    """A positive whole number, or None when unset (the limit is then inherited)."""
    if not env.get(name, "").strip():
        return None
    return _int(env, name, 0, minimum=1)


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive); the first is the default."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _jwt_secret(env: Mapping[str, str], data_dir: Path) -> str:
    """The configured secret, or one generated on first use and kept in the data dir."""
    configured = env.get("SCHEDULER_JWT_SECRET", "").strip()
    if configured:
        return configured
    path = data_dir / "jwt_secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: when several processes start at once, exactly one secret wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the API, the workers and the launcher can be told."""

    data_dir: Path
    database_url: str
    jwt_secret: str
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    external_temporal: bool = False
    task_queue_prefix: str = "scheduler"
    worker_task_types: tuple[str, ...] = ("shell", "http", "python")

    rate_limit_auth: int = 10
    rate_limit_tasks: int = 100
    rate_limit_system: int = 60
    rate_limit_redis_url: str = ""

    jwt_issuer: str = "temporal-task-scheduler"
    jwt_audience: str = "temporal-task-scheduler-api"
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 7 * 24 * 3600
    admin_password: str = "admin123"
    operator_password: str = "op123"
    viewer_password: str = "view123"

    schedule_catchup_window_seconds: int = 60
    retry_initial_interval_seconds: float = 1.0
    retry_backoff_coefficient: float = 2.0
    retry_maximum_interval_seconds: float = 300.0
    heartbeat_timeout_seconds: float = 10.0
    dependency_recheck_seconds: float = 30.0
    lost_attempt_retries: int = 2
    output_limit_bytes: int = 64 * 1024
    kill_grace_seconds: float = 5.0
    allowed_shells: tuple[str, ...] = ("/bin/sh", "/bin/bash")
    allowed_paths: tuple[str, ...] = ()
    allowed_interpreters: tuple[str, ...] = ()
    allow_loader_env: bool = False
    http_block_private: bool = False
    run_as_user: str = "nobody"
    allow_root_tasks: bool = False
    task_max_memory_mb: int | None = None
    task_max_processes: int | None = None
    task_max_open_files: int | None = None
    task_max_cpu_seconds: int | None = None
    worker_heartbeat_seconds: float = 5.0
    worker_liveness_seconds: float = 30.0
    worker_max_concurrent_tasks: int = 10
    worker_drain_seconds: float = 30.0

    connect_retry_seconds: float = 0.0
    """0: retry the database and Temporal at start for as long as it takes."""
    run_retention_days: int = 90
    fault_injection: str = ""
    """Test-only: the name of a crash point to hit (see ``api.tasks.service``)."""
    reconcile_interval_seconds: float = 30.0
    reconcile_settle_seconds: float = 30.0
    db_pool_size: int = 10
    max_request_body_bytes: int = 1024 * 1024
    metrics_refresh_seconds: float = 5.0
    """How stale the database figures of ``/metrics`` may get before a scrape refreshes them."""
    temporal_ui_url: str = ""
    log_format: str = "text"
    """``text`` (human-readable lines) or ``json`` (one JSON object per line)."""

    @property
    def parameter_rules(self) -> ParameterRules:
        """The rules task parameters are validated with, on the API and on the worker."""
        return ParameterRules(
            allowed_shells=self.allowed_shells,
            allowed_paths=self.allowed_paths,
            allowed_interpreters=self.allowed_interpreters,
            allow_loader_env=self.allow_loader_env,
        )

    @property
    def orchestrator_queue(self) -> str:
        return f"{self.task_queue_prefix}-orchestrator"

    def executor_queue(self, task_type: str) -> str:
        return f"{self.task_queue_prefix}-{task_type}"

    @property
    def temporal_port(self) -> int:
        _, _, port = self.temporal_address.rpartition(":")
        return int(port)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        data_dir = Path(_str(env, "SCHEDULER_DATA_DIR", "./.data")).resolve()
        database_url = _str(env, "DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'scheduler.db'}")
        if database_url.startswith("sqlite"):
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporal_address = _str(env, "TEMPORAL_ADDRESS", "127.0.0.1:7233")
        if not temporal_address.rpartition(":")[2].isdigit():
            raise SettingsError(f"TEMPORAL_ADDRESS must be host:port, got {temporal_address!r}")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            jwt_secret=_jwt_secret(env, data_dir),
            api_host=_str(env, "SCHEDULER_API_HOST", "127.0.0.1"),
            api_port=_int(env, "SCHEDULER_API_PORT", 8080),
            temporal_address=temporal_address,
            temporal_namespace=_str(env, "TEMPORAL_NAMESPACE", "default"),
            temporal_ui_port=_int(env, "SCHEDULER_TEMPORAL_UI_PORT", 8233),
            external_temporal=_bool(env, "SCHEDULER_EXTERNAL_TEMPORAL"),
            task_queue_prefix=_str(env, "SCHEDULER_TASK_QUEUE_PREFIX", "scheduler"),
            worker_task_types=_list(
                env, "SCHEDULER_WORKER_TASK_TYPES", ("shell", "http", "python")
            ),
            rate_limit_auth=_int(env, "SCHEDULER_RATE_LIMIT_AUTH", 10, minimum=1),
            rate_limit_tasks=_int(env, "SCHEDULER_RATE_LIMIT_TASKS", 100, minimum=1),
            rate_limit_system=_int(env, "SCHEDULER_RATE_LIMIT_SYSTEM", 60, minimum=1),
            rate_limit_redis_url=_str(env, "SCHEDULER_RATE_LIMIT_REDIS_URL", ""),
            access_token_ttl_seconds=_int(env, "SCHEDULER_ACCESS_TOKEN_TTL_SECONDS", 3600, 1),
            refresh_token_ttl_seconds=_int(
                env, "SCHEDULER_REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600, 1
            ),
            admin_password=_str(env, "SCHEDULER_ADMIN_PASSWORD", "admin123"),
            operator_password=_str(env, "SCHEDULER_OPERATOR_PASSWORD", "op123"),
            viewer_password=_str(env, "SCHEDULER_VIEWER_PASSWORD", "view123"),
            schedule_catchup_window_seconds=_int(
                env, "SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS", 60, minimum=10
            ),
            retry_initial_interval_seconds=_float(
                env, "SCHEDULER_RETRY_INITIAL_INTERVAL_SECONDS", 1.0, minimum=0.1
            ),
            retry_backoff_coefficient=_float(
                env, "SCHEDULER_RETRY_BACKOFF_COEFFICIENT", 2.0, minimum=1.0
            ),
            retry_maximum_interval_seconds=_float(
                env, "SCHEDULER_RETRY_MAXIMUM_INTERVAL_SECONDS", 300.0, minimum=0.1
            ),
            heartbeat_timeout_seconds=_float(
                env, "SCHEDULER_HEARTBEAT_TIMEOUT_SECONDS", 10.0, minimum=1.0
            ),
            lost_attempt_retries=_int(env, "SCHEDULER_LOST_ATTEMPT_RETRIES", 2),
            dependency_recheck_seconds=_float(
                env, "SCHEDULER_DEPENDENCY_RECHECK_SECONDS", 30.0, minimum=0.5
            ),
            output_limit_bytes=_int(env, "SCHEDULER_OUTPUT_LIMIT_BYTES", 64 * 1024, minimum=256),
            kill_grace_seconds=_float(env, "SCHEDULER_KILL_GRACE_SECONDS", 5.0),
            allowed_shells=_list(env, "SCHEDULER_ALLOWED_SHELLS", ("/bin/sh", "/bin/bash")),
            allowed_paths=_list(env, "SCHEDULER_ALLOWED_PATHS", ()),
            allowed_interpreters=_list(
                env, "SCHEDULER_ALLOWED_INTERPRETERS", _default_interpreters()
            ),
            allow_loader_env=_bool(env, "SCHEDULER_ALLOW_LOADER_ENV"),
            http_block_private=_bool(env, "SCHEDULER_HTTP_BLOCK_PRIVATE"),
            run_as_user=_str(env, "SCHEDULER_RUN_AS_USER", "nobody"),
            allow_root_tasks=_bool(env, "SCHEDULER_ALLOW_ROOT_TASKS"),
            task_max_memory_mb=_limit(env, "SCHEDULER_TASK_MAX_MEMORY_MB"),
            task_max_processes=_limit(env, "SCHEDULER_TASK_MAX_PROCESSES"),
            task_max_open_files=_limit(env, "SCHEDULER_TASK_MAX_OPEN_FILES"),
            task_max_cpu_seconds=_limit(env, "SCHEDULER_TASK_MAX_CPU_SECONDS"),
            worker_heartbeat_seconds=_float(
                env, "SCHEDULER_WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.2
            ),
            worker_liveness_seconds=_float(
                env, "SCHEDULER_WORKER_LIVENESS_SECONDS", 30.0, minimum=1.0
            ),
            worker_max_concurrent_tasks=_int(env, "SCHEDULER_WORKER_MAX_CONCURRENT", 10, 1),
            worker_drain_seconds=_float(env, "SCHEDULER_WORKER_DRAIN_SECONDS", 30.0),
            connect_retry_seconds=_float(env, "SCHEDULER_CONNECT_RETRY_SECONDS", 0.0),
            run_retention_days=_int(env, "SCHEDULER_RUN_RETENTION_DAYS", 90, minimum=1),
            fault_injection=_str(env, "SCHEDULER_FAULT_INJECTION", ""),
            reconcile_interval_seconds=_float(
                env, "SCHEDULER_RECONCILE_INTERVAL_SECONDS", 30.0, minimum=1.0
            ),
            reconcile_settle_seconds=_float(
                env, "SCHEDULER_RECONCILE_SETTLE_SECONDS", 30.0, minimum=1.0
            ),
            db_pool_size=_int(env, "SCHEDULER_DB_POOL_SIZE", 10, minimum=1),
            max_request_body_bytes=_int(
                env, "SCHEDULER_MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024
            ),
            metrics_refresh_seconds=_float(
                env, "SCHEDULER_METRICS_REFRESH_SECONDS", 5.0, minimum=0.1
            ),
            temporal_ui_url=_str(env, "SCHEDULER_TEMPORAL_UI_URL", "").rstrip("/"),
            log_format=_choice(env, "SCHEDULER_LOG_FORMAT", ("text", "json")),
        )
