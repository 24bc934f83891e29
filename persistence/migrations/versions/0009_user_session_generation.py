"""users.session_generation: a user's tokens are valid only while it is unchanged

A role change, a deactivation or a password change increments it, which
revokes every access and refresh token the user holds at once. Existing
tokens carry no generation and count as 0, the column's starting value.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
