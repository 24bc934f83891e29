"""fire_reports: the late and missed fires the orchestrator's fire watch reported

Revision ID: 0013
Revises: 0012b
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fire_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True),
        sa.Column(
            "task_id",
            sa.Integer,
            sa.ForeignKey("tasks.id", ondelete="CASCADE", name="fk_fire_reports_task_id_tasks"),
            nullable=False,
        ),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_fire_reports"),
        sa.UniqueConstraint(
            "task_id", "fire_at", "event", name="uq_fire_reports_task_id_fire_at_event"
        ),
    )
    op.create_index("ix_fire_reports_emitted_at", "fire_reports", ["emitted_at"])


def downgrade() -> None:
    op.drop_index("ix_fire_reports_emitted_at", table_name="fire_reports")
    op.drop_table("fire_reports")
