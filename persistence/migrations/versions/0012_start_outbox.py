"""start_outbox: the outbox of triggers and backfills whose Temporal start is not confirmed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "start_outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "task_id",
            sa.Integer,
            sa.ForeignKey("tasks.id", ondelete="CASCADE", name="fk_start_outbox_task_id_tasks"),
            nullable=False,
        ),
        sa.Column(
            "task_run_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey(
                "task_runs.id", ondelete="CASCADE", name="fk_start_outbox_task_run_id_task_runs"
            ),
            nullable=True,
        ),
        sa.Column(
            "backfill_id",
            sa.Integer,
            sa.ForeignKey(
                "task_backfills.id",
                ondelete="CASCADE",
                name="fk_start_outbox_backfill_id_task_backfills",
            ),
            nullable=True,
        ),
        sa.Column("overlap_policy", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_start_outbox"),
        sa.UniqueConstraint("task_run_id", name="uq_start_outbox_task_run_id"),
        sa.UniqueConstraint("backfill_id", name="uq_start_outbox_backfill_id"),
    )
    op.create_index("ix_start_outbox_task_id", "start_outbox", ["task_id"])
    op.create_index("ix_start_outbox_created_at", "start_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("start_outbox")
