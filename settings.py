"""The one typed settings object, read from the environment once and passed down.

Every port, limit and interval the design names is a field here, under the
environment variable the design fixes, so tests and benchmarks can change them.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

if TYPE_CHECKING:
    from domain.parameters import ParameterRules

T = TypeVar("T")

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


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


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


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive); ``default`` when unset."""
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _token(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)``, spelled out: secrets loads OpenSSL's
    hashing (~4 MiB) into devstack.py, which reads these settings first."""
    return base64.urlsafe_b64encode(os.urandom(nbytes)).rstrip(b"=").decode("ascii")


def _generated_secret(data_dir: Path, filename: str, make: Callable[[], str]) -> str:
    """The secret kept in ``data_dir/filename``, made with ``make`` on first use (file 0600)."""
    path = data_dir / filename
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = make()
    # O_EXCL: when several processes start at once, exactly one secret wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def _jwt_secret(env: Mapping[str, str], data_dir: Path) -> str:
    """The configured secret, or one generated on first use and kept in the data dir."""
    configured = env.get("SCHEDULER_JWT_SECRET", "").strip()
    if configured:
        return configured
    return _generated_secret(data_dir, "jwt_secret", lambda: _token(48))


@dataclass(frozen=True, slots=True)
class PayloadKey:
    """One key of the payload key ring: its id travels with every signature."""

    kid: str
    secret: str = field(repr=False)


PAYLOAD_KEY_MIN_LENGTH = 16


def parse_payload_keys(raw: str, name: str = "SCHEDULER_PAYLOAD_KEY") -> tuple[PayloadKey, ...]:
    """``kid:secret[,kid:secret...]``: the first key signs, every one verifies."""
    keys: list[PayloadKey] = []
    for item in raw.split(","):
        kid, sep, secret = item.strip().partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not sep or not kid or not secret:
            raise SettingsError(f"{name} must be kid:secret[,kid:secret...]")
        if not kid.isascii() or not all(c.isalnum() or c in "-_." for c in kid):
            raise SettingsError(f"{name}: key id {kid!r} may hold only letters, digits, - _ .")
        if len(secret) < PAYLOAD_KEY_MIN_LENGTH:
            raise SettingsError(
                f"{name}: the secret of key {kid!r} must be at least "
                f"{PAYLOAD_KEY_MIN_LENGTH} characters"
            )
        if any(key.kid == kid for key in keys):
            raise SettingsError(f"{name}: key id {kid!r} is given twice")
        keys.append(PayloadKey(kid, secret))
    return tuple(keys)


def _payload_keys(env: Mapping[str, str], data_dir: Path) -> tuple[PayloadKey, ...]:
    configured = env.get("SCHEDULER_PAYLOAD_KEY", "").strip()
    if not configured:
        configured = _generated_secret(data_dir, "payload_key", lambda: f"k1:{_token(32)}")
    return parse_payload_keys(configured)


def _timestamp(env: Mapping[str, str], name: str) -> datetime | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SettingsError(f"{name} must be an RFC 3339 time, got {raw!r}") from exc
    if moment.tzinfo is None:
        raise SettingsError(f"{name} must carry a time zone (e.g. Z), got {raw!r}")
    return moment


@dataclass(frozen=True, slots=True)
class _EnvSpec:
    env: str
    minimum: float
    choices: tuple[str, ...]
    env_default: Callable[[], Any] | None


_ENV = "settings.env"


def setting(
    env: str,
    default: T,
    *,
    minimum: float = 0,
    choices: tuple[str, ...] = (),
    env_default: Callable[[], T] | None = None,
    secret: bool = False,
) -> T:
    """A field read from the environment variable ``env``; ``default`` when it is unset.

    Numbers below ``minimum`` are refused; ``choices`` limits a string.
    ``env_default`` computes what ``from_env`` uses when the variable is unset,
    where that depends on the machine (a field built in code keeps ``default``).
    A ``secret`` is left out of the settings' repr.
    """
    spec = _EnvSpec(env=env, minimum=minimum, choices=choices, env_default=env_default)
    return field(default=default, repr=not secret, metadata={_ENV: spec})


def _read(spec: _EnvSpec, kind: object, env: Mapping[str, str], default: Any) -> Any:
    """The value of one field from ``env``, parsed as the field's type says."""
    if spec.env_default is not None and not env.get(spec.env, "").strip():
        return spec.env_default()
    if kind is bool:
        return _bool(env, spec.env, default)
    if kind is int:
        return _int(env, spec.env, default, int(spec.minimum))
    if kind == int | None:
        return _limit(env, spec.env)
    if kind is float:
        return _float(env, spec.env, default, float(spec.minimum))
    if kind == tuple[str, ...]:
        return _list(env, spec.env, default)
    if kind is str and spec.choices:
        return _choice(env, spec.env, default, spec.choices)
    if kind is str:
        return _str(env, spec.env, default)
    raise TypeError(f"no reader for a setting of type {kind!r} ({spec.env})")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the API, the workers and the launcher can be told.

    Each field that the environment sets names its variable and default once,
    with ``setting(...)``; ``from_env`` reads them all.
    """

    data_dir: Path
    database_url: str
    jwt_secret: str
    payload_keys: tuple[PayloadKey, ...]
    """The first key signs every payload written to Temporal; all of them verify."""
    api_host: str = setting("SCHEDULER_API_HOST", "127.0.0.1")
    api_port: int = setting("SCHEDULER_API_PORT", 8080)
    temporal_address: str = setting("TEMPORAL_ADDRESS", "127.0.0.1:7233")
    temporal_namespace: str = setting("TEMPORAL_NAMESPACE", "default")
    temporal_ui_port: int = setting("SCHEDULER_TEMPORAL_UI_PORT", 8233)
    external_temporal: bool = setting("SCHEDULER_EXTERNAL_TEMPORAL", False)
    task_queue_prefix: str = setting("SCHEDULER_TASK_QUEUE_PREFIX", "scheduler")
    worker_task_types: tuple[str, ...] = setting(
        "SCHEDULER_WORKER_TASK_TYPES", ("shell", "http", "python")
    )

    rate_limit_auth: int = setting("SCHEDULER_RATE_LIMIT_AUTH", 10, minimum=1)
    rate_limit_tasks: int = setting("SCHEDULER_RATE_LIMIT_TASKS", 100, minimum=1)
    rate_limit_system: int = setting("SCHEDULER_RATE_LIMIT_SYSTEM", 60, minimum=1)
    rate_limit_redis_url: str = setting("SCHEDULER_RATE_LIMIT_REDIS_URL", "")

    jwt_issuer: str = "temporal-task-scheduler"
    jwt_audience: str = "temporal-task-scheduler-api"
    access_token_ttl_seconds: int = setting("SCHEDULER_ACCESS_TOKEN_TTL_SECONDS", 3600, minimum=1)
    refresh_token_ttl_seconds: int = setting(
        "SCHEDULER_REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=1
    )
    # Argon2id cost of stored passwords (passlib's defaults, 4 lanes); a hash made
    # with other parameters is upgraded at its next successful login.
    password_hash_rounds: int = setting("SCHEDULER_PASSWORD_HASH_ROUNDS", 3, minimum=1)
    password_hash_memory_kib: int = setting("SCHEDULER_PASSWORD_HASH_MEMORY_KIB", 65536, minimum=32)
    admin_password: str = setting("SCHEDULER_ADMIN_PASSWORD", "admin123")
    operator_password: str = setting("SCHEDULER_OPERATOR_PASSWORD", "op123")
    viewer_password: str = setting("SCHEDULER_VIEWER_PASSWORD", "view123")

    schedule_catchup_window_seconds: int = setting(
        "SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS", 60, minimum=10
    )
    backfill_max_fires: int = setting("SCHEDULER_BACKFILL_MAX_FIRES", 1000, minimum=1)
    retry_initial_interval_seconds: float = setting(
        "SCHEDULER_RETRY_INITIAL_INTERVAL_SECONDS", 1.0, minimum=0.1
    )
    retry_backoff_coefficient: float = setting(
        "SCHEDULER_RETRY_BACKOFF_COEFFICIENT", 2.0, minimum=1.0
    )
    retry_maximum_interval_seconds: float = setting(
        "SCHEDULER_RETRY_MAXIMUM_INTERVAL_SECONDS", 300.0, minimum=0.1
    )
    heartbeat_timeout_seconds: float = setting(
        "SCHEDULER_HEARTBEAT_TIMEOUT_SECONDS", 10.0, minimum=1.0
    )
    dependency_recheck_seconds: float = setting(
        "SCHEDULER_DEPENDENCY_RECHECK_SECONDS", 30.0, minimum=0.5
    )
    lost_attempt_retries: int = setting("SCHEDULER_LOST_ATTEMPT_RETRIES", 2)
    output_limit_bytes: int = setting("SCHEDULER_OUTPUT_LIMIT_BYTES", 64 * 1024, minimum=256)
    kill_grace_seconds: float = setting("SCHEDULER_KILL_GRACE_SECONDS", 5.0)
    allowed_shells: tuple[str, ...] = setting("SCHEDULER_ALLOWED_SHELLS", ("/bin/sh", "/bin/bash"))
    allowed_paths: tuple[str, ...] = setting("SCHEDULER_ALLOWED_PATHS", ())
    allowed_interpreters: tuple[str, ...] = setting(
        "SCHEDULER_ALLOWED_INTERPRETERS", (), env_default=_default_interpreters
    )
    allow_loader_env: bool = setting("SCHEDULER_ALLOW_LOADER_ENV", False)
    http_block_private: bool = setting("SCHEDULER_HTTP_BLOCK_PRIVATE", False)
    run_as_user: str = setting("SCHEDULER_RUN_AS_USER", "nobody")
    allow_root_tasks: bool = setting("SCHEDULER_ALLOW_ROOT_TASKS", False)
    task_max_memory_mb: int | None = setting("SCHEDULER_TASK_MAX_MEMORY_MB", None)
    """Unset: the limit is inherited (as for the three below)."""
    task_max_processes: int | None = setting("SCHEDULER_TASK_MAX_PROCESSES", None)
    task_max_open_files: int | None = setting("SCHEDULER_TASK_MAX_OPEN_FILES", None)
    task_max_cpu_seconds: int | None = setting("SCHEDULER_TASK_MAX_CPU_SECONDS", None)
    worker_heartbeat_seconds: float = setting(
        "SCHEDULER_WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.2
    )
    worker_liveness_seconds: float = setting("SCHEDULER_WORKER_LIVENESS_SECONDS", 30.0, minimum=1.0)
    worker_max_concurrent_tasks: int = setting("SCHEDULER_WORKER_MAX_CONCURRENT", 10, minimum=1)
    worker_drain_seconds: float = setting("SCHEDULER_WORKER_DRAIN_SECONDS", 30.0)

    connect_retry_seconds: float = setting("SCHEDULER_CONNECT_RETRY_SECONDS", 0.0)
    """0: retry the database and Temporal at start for as long as it takes."""
    run_retention_days: int = setting("SCHEDULER_RUN_RETENTION_DAYS", 90, minimum=1)
    fault_injection: str = setting("SCHEDULER_FAULT_INJECTION", "")
    """Test-only: the name of a crash point to hit (see ``api.tasks.service``)."""
    reconcile_interval_seconds: float = setting(
        "SCHEDULER_RECONCILE_INTERVAL_SECONDS", 30.0, minimum=1.0
    )
    outbox_start_timeout_seconds: float = setting(
        "SCHEDULER_OUTBOX_START_TIMEOUT_SECONDS", 2.0, minimum=0.1
    )
    """How long a trigger waits for Temporal to start its run before leaving it to the relay."""
    outbox_relay_interval_seconds: float = setting(
        "SCHEDULER_OUTBOX_RELAY_INTERVAL_SECONDS", 1.0, minimum=0.1
    )
    fire_watch_interval_seconds: float = setting(
        "SCHEDULER_FIRE_WATCH_INTERVAL_SECONDS", 15.0, minimum=0.5
    )
    """How often the orchestrator looks for late and missed fires."""
    fire_ledger_grace_seconds: float = setting(
        "SCHEDULER_FIRE_LEDGER_GRACE_SECONDS", 60.0, minimum=1.0
    )
    """How long past its latest possible start a fire without a run waits before
    the ledger, the fire watch and the missed-fire count call it ``missed``."""
    reconcile_settle_seconds: float = setting(
        "SCHEDULER_RECONCILE_SETTLE_SECONDS", 30.0, minimum=1.0
    )
    db_pool_size: int = setting("SCHEDULER_DB_POOL_SIZE", 10, minimum=1)
    max_request_body_bytes: int = setting(
        "SCHEDULER_MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024
    )
    trusted_proxies: tuple[str, ...] = setting("SCHEDULER_TRUSTED_PROXIES", ())
    """Peers (IPs or CIDR ranges) whose ``X-Forwarded-For`` names the client; none by default."""
    max_header_bytes: int = setting("SCHEDULER_MAX_HEADER_BYTES", 32 * 1024, minimum=1024)
    header_timeout_seconds: float = setting("SCHEDULER_HEADER_TIMEOUT_SECONDS", 10.0, minimum=0.1)
    metrics_refresh_seconds: float = setting("SCHEDULER_METRICS_REFRESH_SECONDS", 5.0, minimum=0.1)
    """How often the API re-reads the database figures of ``/metrics`` (its own timer)."""
    temporal_ui_url: str = setting("SCHEDULER_TEMPORAL_UI_URL", "")
    public_url: str = setting("SCHEDULER_PUBLIC_URL", "")
    """The address browsers reach the API at; ``https://...`` makes the console's cookie Secure."""
    log_format: str = setting("SCHEDULER_LOG_FORMAT", "text", choices=("text", "json"))
    """``text`` (human-readable lines) or ``json`` (one JSON object per line)."""
    payload_encryption: bool = setting("SCHEDULER_PAYLOAD_ENCRYPTION", False)
    """Also encrypt payloads (AES-GCM); the Web UI then reads them through /api/codec/decode."""
    payload_accept_unsigned_until: datetime | None = None
    """Upgrade window (``SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL``): until then unsigned
    payloads are accepted, with a warning."""
    notify_retry_hours: float = setting("SCHEDULER_NOTIFY_RETRY_HOURS", 24.0, minimum=0.001)
    notify_retry_initial_interval_seconds: float = setting(
        "SCHEDULER_NOTIFY_RETRY_INITIAL_INTERVAL_SECONDS", 5.0, minimum=0.1
    )
    notify_retry_maximum_interval_seconds: float = setting(
        "SCHEDULER_NOTIFY_RETRY_MAXIMUM_INTERVAL_SECONDS", 600.0, minimum=0.1
    )
    smtp_host: str = setting("SCHEDULER_SMTP_HOST", "")
    """Empty: no e-mail channels."""
    smtp_port: int = setting("SCHEDULER_SMTP_PORT", 587, minimum=1)
    smtp_username: str = setting("SCHEDULER_SMTP_USERNAME", "")
    smtp_password: str = setting("SCHEDULER_SMTP_PASSWORD", "", secret=True)
    smtp_from: str = setting("SCHEDULER_SMTP_FROM", "scheduler@localhost")
    smtp_starttls: bool = setting("SCHEDULER_SMTP_STARTTLS", True)
    temporal_tls_ca: str = setting("TEMPORAL_TLS_CA", "")
    temporal_tls_cert: str = setting("TEMPORAL_TLS_CERT", "")
    temporal_tls_key: str = setting("TEMPORAL_TLS_KEY", "")
    temporal_api_key: str = setting("TEMPORAL_API_KEY", "", secret=True)

    @property
    def parameter_rules(self) -> ParameterRules:
        """The rules task parameters are validated with, on the API and on the worker."""
        # Imported here: the schemas' msgspec is ~4 MiB that devstack.py, which
        # reads the settings too, would keep for as long as the stack runs.
        from domain.parameters import ParameterRules

        return ParameterRules(
            allowed_shells=self.allowed_shells,
            allowed_paths=self.allowed_paths,
            allowed_interpreters=self.allowed_interpreters,
            allow_loader_env=self.allow_loader_env,
        )

    @property
    def api_url(self) -> str:
        """Where notifications link to: ``SCHEDULER_PUBLIC_URL``, else the bind address."""
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

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
        kinds = get_type_hints(cls)
        values = {
            item.name: _read(item.metadata[_ENV], kinds[item.name], env, item.default)
            for item in fields(cls)
            if _ENV in item.metadata
        }
        if not values["temporal_address"].rpartition(":")[2].isdigit():
            raise SettingsError(
                f"TEMPORAL_ADDRESS must be host:port, got {values['temporal_address']!r}"
            )
        values["temporal_ui_url"] = values["temporal_ui_url"].rstrip("/")
        values["public_url"] = values["public_url"].rstrip("/")
        if bool(values["temporal_tls_cert"]) != bool(values["temporal_tls_key"]):
            raise SettingsError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY are given together or not")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            jwt_secret=_jwt_secret(env, data_dir),
            payload_keys=_payload_keys(env, data_dir),
            payload_accept_unsigned_until=_timestamp(
                env, "SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL"
            ),
            **values,
        )
