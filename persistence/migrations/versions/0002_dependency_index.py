"""index for dependency checks: a task's completions by time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_task_runs_task_id_status_completed_at",
        "task_runs",
        ["task_id", "status", "completed_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_task_runs_task_id_status_completed_at", table_name="task_runs")
