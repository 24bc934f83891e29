"""notifications: channels, deliveries, and the task fields that use them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_RUN_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("tasks", sa.Column("notifications", sa.JSON, nullable=True))
    op.execute("UPDATE tasks SET notifications = '[]'")
    op.add_column("tasks", sa.Column("late_after_seconds", sa.Integer))
    op.add_column("tasks", sa.Column("pause_after_failures", sa.Integer))
    op.add_column("tasks", sa.Column("paused_reason", sa.String(500)))
    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("sealed_config", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_channels"),
        sa.UniqueConstraint("name", name="uq_notification_channels_name"),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", _RUN_ID, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("task_id", sa.Integer, nullable=True),
        sa.Column("task_run_id", _RUN_ID, nullable=True),
        sa.Column("channel_id", sa.Integer, nullable=True),
        sa.Column("channel_type", sa.String(16), nullable=False),
        sa.Column("channel_name", sa.String(255), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_deliveries"),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name="fk_notification_deliveries_task_id_tasks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_run_id"],
            ["task_runs.id"],
            name="fk_notification_deliveries_task_run_id_task_runs",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name="fk_notification_deliveries_channel_id_notification_channels",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint(
            "event_id", "channel_id", name="uq_notification_deliveries_event_id_channel_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_notification_deliveries_task_run_id_id",
        "notification_deliveries",
        ["task_run_id", "id"],
    )
    op.create_index("ix_notification_deliveries_task_id", "notification_deliveries", ["task_id"])
    op.create_index(
        "ix_notification_deliveries_channel_id", "notification_deliveries", ["channel_id"]
    )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("notification_channels")
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("paused_reason")
        batch_op.drop_column("pause_after_failures")
        batch_op.drop_column("late_after_seconds")
        batch_op.drop_column("notifications")
