"""tasks: overlap_policy, catchup_window_seconds, jitter_seconds, dst_policy

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Constant server defaults: a plain ADD COLUMN on both backends, and the
    # existing tasks get the documented defaults. A null catch-up window keeps
    # following the deployment's setting, as every task did before.
    op.add_column(
        "tasks", sa.Column("overlap_policy", sa.String(16), nullable=False, server_default="skip")
    )
    op.add_column("tasks", sa.Column("catchup_window_seconds", sa.Integer))
    op.add_column(
        "tasks", sa.Column("jitter_seconds", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column(
        "tasks", sa.Column("dst_policy", sa.String(8), nullable=False, server_default="cron")
    )


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.drop_column("dst_policy")
        batch_op.drop_column("jitter_seconds")
        batch_op.drop_column("catchup_window_seconds")
        batch_op.drop_column("overlap_policy")
