"""task_runs ids are never reused on SQLite (AUTOINCREMENT)

Without AUTOINCREMENT, SQLite gives a new row the largest id plus one, so the
id of the newest run comes back after that run is deleted. A client holding
that id would then read another run, and ``/metrics`` (which remembers how far
up the ids it has counted) would miss the new one. Postgres ids come from a
sequence and are never reused: nothing to do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite cannot alter a primary key: the table is rebuilt, rows and indexes kept.
    with op.batch_alter_table(
        "task_runs", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "task_runs", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
