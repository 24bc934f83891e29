"""attempt_outcomes: executor outcomes recorded before they are reported; tasks.redeliver_finished

Revision ID: 0012b
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012b"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_outcomes",
        sa.Column(
            "task_run_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey(
                "task_runs.id",
                ondelete="CASCADE",
                name="fk_attempt_outcomes_task_run_id_task_runs",
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("failure_type", sa.String(64), nullable=True),
        sa.Column("non_retryable", sa.Boolean, nullable=False),
        sa.Column("worker_id", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_run_id", "attempt", name="pk_attempt_outcomes"),
    )
    # Existing tasks keep the new default: a finished command is not run again.
    op.add_column(
        "tasks",
        sa.Column("redeliver_finished", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("redeliver_finished")
    op.drop_table("attempt_outcomes")
