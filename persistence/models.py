"""Typed SQLAlchemy models: the definition store and the read model of runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false as sa_false

from persistence.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    task_type: Mapped[str] = mapped_column(String(100), index=True)
    schedule: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    dependency_timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Server defaults only: an insert that names none of these (an older
    # writer, a test on an older schema) leaves them to the database.
    overlap_policy: Mapped[str] = mapped_column(String(16), server_default="skip")
    catchup_window_seconds: Mapped[int | None] = mapped_column(Integer)
    """Null: the deployment's default, ``SCHEDULER_SCHEDULE_CATCHUP_WINDOW_SECONDS``."""
    jitter_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    dst_policy: Mapped[str] = mapped_column(String(8), server_default="cron")
    # Nullable without a default: a JSON server default differs per backend.
    # The API writes it with every definition; null reads as [].
    notifications: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """``[{"channel_id", "on": [events]}]``: where the task's events are sent."""
    late_after_seconds: Mapped[int | None] = mapped_column(Integer)
    pause_after_failures: Mapped[int | None] = mapped_column(Integer)
    paused_reason: Mapped[str | None] = mapped_column(String(500))
    """Why the scheduler paused the task itself (auto-pause); null otherwise."""
    redeliver_finished: Mapped[bool] = mapped_column(Boolean, server_default=sa_false())
    """Run a finished command again when Temporal retries an attempt whose outcome it lost."""


class TaskDependency(Base):
    """Edge ``task_id`` depends on ``depends_on_id``."""

    __tablename__ = "task_dependencies"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("tasks.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class TaskRun(Base):
    __tablename__ = "task_runs"
    __table_args__ = (
        Index("ix_task_runs_task_id_id", "task_id", "id"),
        Index("ix_task_runs_task_id_status_id", "task_id", "status", "id"),
        Index("ix_task_runs_task_id_completed_at", "task_id", "completed_at"),
        Index("ix_task_runs_task_id_status_completed_at", "task_id", "status", "completed_at"),
        Index("ix_task_runs_task_id_created_at", "task_id", "created_at"),
        Index("ix_task_runs_status_completed_at", "status", "completed_at"),
        Index("ix_task_runs_worker_id_completed_at", "worker_id", "completed_at"),
        Index("ix_task_runs_task_id_trigger_id", "task_id", "trigger", "id"),
        Index("ix_task_runs_task_id_scheduled_at", "task_id", "scheduled_at"),
        # Never reuse a deleted run's id (SQLite would otherwise; see migration 0004).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    workflow_id: Mapped[str] = mapped_column(String(255), unique=True)
    temporal_run_id: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    """``schedule``, ``manual`` or ``backfill`` (``domain.statuses.RunTrigger``)."""
    triggered_by: Mapped[str | None] = mapped_column(String(255))
    """The username or API key name that triggered or backfilled the run; None for a fire."""
    status: Mapped[str] = mapped_column(String(16))
    worker_id: Mapped[str | None] = mapped_column(String(255))
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the run left ``Pending`` (its dependencies were met); the dependency wait ends here."""
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    execution_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskStatusChange(Base):
    """A task became ``Active`` or ``Inactive`` (its schedule unpaused or paused): when, by whom."""

    __tablename__ = "task_status_changes"
    __table_args__ = (Index("ix_task_status_changes_task_id_changed_at", "task_id", "changed_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(255))
    """Username or API key name; None for the row the history began with (migration)."""
    via: Mapped[str] = mapped_column(String(16))
    """``create``, ``replace`` (PUT), ``patch``, ``bulk`` or ``migration``."""


class TriggerIdempotencyKey(Base):
    """An ``Idempotency-Key`` a trigger was made with, and the run it made.

    The key is the primary key: of concurrent triggers with one key exactly
    one inserts it, and the rest answer with that one's run.
    """

    __tablename__ = "trigger_idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    task_run_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("task_runs.id", ondelete="CASCADE"),
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AttemptOutcome(Base):
    """What an executor attempt ended with, recorded before it is reported to Temporal.

    An attempt Temporal retries after losing this report returns it instead of
    running the command again. Deleted when the run finishes.
    """

    __tablename__ = "attempt_outcomes"

    task_run_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("task_runs.id", ondelete="CASCADE"),
        primary_key=True,
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    output: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    failure_type: Mapped[str | None] = mapped_column(String(64))
    non_retryable: Mapped[bool] = mapped_column(Boolean)
    worker_id: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxEntry(Base):
    """The outbox: a run or backfill committed whose Temporal start is not yet confirmed.

    Written in the transaction that writes the run row (or the backfill), and
    deleted once Temporal has the workflow (or the backfill); the API starts it
    at once and the orchestrator's relay whatever the API did not.
    """

    __tablename__ = "start_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    """Relayed in this order."""
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    task_run_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("task_runs.id", ondelete="CASCADE"),
        unique=True,
    )
    """The run to start (a trigger); None for a backfill."""
    backfill_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_backfills.id", ondelete="CASCADE"), unique=True
    )
    """The backfill to ask of the schedule; None for a trigger."""
    overlap_policy: Mapped[str | None] = mapped_column(String(32))
    """A backfill's overlap policy."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class FireReport(Base):
    """A ``late`` or ``missed`` fire the orchestrator's fire watch found.

    One row per task, fire time and event (the unique key), so however often
    the watch sees the fire, or however many orchestrators run it, the event
    is reported once; ``emitted_at`` stays null until the notification was
    handed to Temporal, so one found while Temporal is down is sent later.
    """

    __tablename__ = "fire_reports"
    __table_args__ = (
        UniqueConstraint("task_id", "fire_at", "event"),
        Index("ix_fire_reports_emitted_at", "emitted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(16))
    """``late`` or ``missed``."""
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    emitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskBackfill(Base):
    """A backfill someone asked of a task's schedule.

    Temporal starts a backfill's runs exactly like schedule fires (nothing in
    the workflow tells them apart), so the mirror recognises them by their
    fire time falling inside a recorded backfill of their task.
    """

    __tablename__ = "task_backfills"
    __table_args__ = (Index("ix_task_backfills_task_id_start_at", "task_id", "start_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    ip_address: Mapped[str] = mapped_column(String(64))
    supported_task_types: Mapped[list[str]] = mapped_column(JSON)
    max_concurrent_tasks: Mapped[int] = mapped_column(Integer)
    current_task_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Tokens carry the value they were issued under; changing it revokes them all."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """A JWT id that must no longer be accepted, kept until the token expires."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Secret(Base):
    """A named secret: its value sealed (AES-GCM) under the payload key ``key_id``."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationChannel(Base):
    """Where notifications go: a webhook, a Slack incoming webhook or e-mail recipients.

    ``config`` is what the API shows (secrets replaced by ``***``); the whole
    configuration, secrets included, is sealed under the payload key
    ``key_id`` in ``sealed_config``.
    """

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    key_id: Mapped[str] = mapped_column(String(64))
    sealed_config: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NotificationDelivery(Base):
    """One event sent to one channel: its body, and how its attempts went."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel_id"),
        Index("ix_notification_deliveries_task_run_id_id", "task_run_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(16))
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    task_run_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("task_runs.id", ondelete="CASCADE"),
    )
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="SET NULL"), index=True
    )
    channel_type: Mapped[str] = mapped_column(String(16))
    channel_name: Mapped[str] = mapped_column(String(255))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The event's data (the webhook body), fixed when the event was recorded."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    """The HTTP status of the last attempt (SMTP reply code for e-mail)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gave_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
