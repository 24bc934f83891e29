"""task_status_changes (when each task was paused and resumed, by whom), and
the index the fire ledger reads runs by fire time with

Every existing task starts its history with one row: its current status since
its creation (the best that is known; no earlier change was recorded).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_status_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column(
            "task_id",
            sa.Integer,
            sa.ForeignKey(
                "tasks.id", ondelete="CASCADE", name="fk_task_status_changes_task_id_tasks"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(255)),
        sa.Column("via", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_status_changes"),
    )
    op.create_index(
        "ix_task_status_changes_task_id_changed_at",
        "task_status_changes",
        ["task_id", "changed_at"],
    )
    op.create_index("ix_task_runs_task_id_scheduled_at", "task_runs", ["task_id", "scheduled_at"])
    op.execute(
        "INSERT INTO task_status_changes (task_id, status, changed_at, changed_by, via) "
        "SELECT id, status, created_at, NULL, 'migration' FROM tasks"
    )


def downgrade() -> None:
    op.drop_index("ix_task_runs_task_id_scheduled_at", table_name="task_runs")
    op.drop_table("task_status_changes")
