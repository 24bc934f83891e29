"""task_runs.dispatched_at: when a run's dependency wait ended

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and without a default: a plain ADD COLUMN on both Postgres and SQLite.
    op.add_column("task_runs", sa.Column("dispatched_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch_op:
        batch_op.drop_column("dispatched_at")
