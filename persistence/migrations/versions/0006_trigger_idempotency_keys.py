"""trigger_idempotency_keys: the run each Idempotency-Key of a trigger made

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column(
            "task_id",
            sa.Integer,
            sa.ForeignKey(
                "tasks.id", ondelete="CASCADE", name="fk_trigger_idempotency_keys_task_id_tasks"
            ),
            nullable=False,
        ),
        sa.Column(
            "task_run_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey(
                "task_runs.id",
                ondelete="CASCADE",
                name="fk_trigger_idempotency_keys_task_run_id_task_runs",
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_trigger_idempotency_keys"),
    )
    for column in ("task_id", "task_run_id", "created_at"):
        op.create_index(
            f"ix_trigger_idempotency_keys_{column}", "trigger_idempotency_keys", [column]
        )


def downgrade() -> None:
    op.drop_table("trigger_idempotency_keys")
