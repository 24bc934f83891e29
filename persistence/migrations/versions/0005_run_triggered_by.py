"""task_runs.triggered_by, the trigger filter's index, and recorded backfills

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and without a default: a plain ADD COLUMN on both backends.
    op.add_column("task_runs", sa.Column("triggered_by", sa.String(255)))
    op.create_index("ix_task_runs_task_id_trigger_id", "task_runs", ["task_id", "trigger", "id"])
    op.create_table(
        "task_backfills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "task_id",
            sa.Integer,
            sa.ForeignKey("tasks.id", ondelete="CASCADE", name="fk_task_backfills_task_id_tasks"),
            nullable=False,
        ),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_backfills"),
    )
    op.create_index("ix_task_backfills_task_id_start_at", "task_backfills", ["task_id", "start_at"])


def downgrade() -> None:
    op.drop_index("ix_task_backfills_task_id_start_at", table_name="task_backfills")
    op.drop_table("task_backfills")
    op.drop_index("ix_task_runs_task_id_trigger_id", table_name="task_runs")
    with op.batch_alter_table("task_runs") as batch_op:
        batch_op.drop_column("triggered_by")
