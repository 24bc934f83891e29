"""task_runs: on Postgres, NOTIFY scheduler_run_ended with the run id when a run ends

A run ends when its status becomes terminal, whichever writer moves it there
(the workflow's final mirror write, the reconciler, a cancelled trigger), or
when an open run's row is deleted. The notification goes out when that
transaction commits; the API's waiters listen for it. SQLite has no
notifications: nothing changes there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OPEN = "('Pending', 'Dispatched', 'Running')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION scheduler_notify_run_ended() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('scheduler_run_ended', OLD.id::text);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER task_runs_notify_ended
        AFTER UPDATE OF status ON task_runs
        FOR EACH ROW
        WHEN (OLD.status IN {_OPEN} AND NEW.status NOT IN {_OPEN})
        EXECUTE FUNCTION scheduler_notify_run_ended()
        """
    )
    # Only open rows: deleting history (retention, a deleted task) notifies no one.
    op.execute(
        f"""
        CREATE TRIGGER task_runs_notify_deleted
        AFTER DELETE ON task_runs
        FOR EACH ROW
        WHEN (OLD.status IN {_OPEN})
        EXECUTE FUNCTION scheduler_notify_run_ended()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER task_runs_notify_deleted ON task_runs")
    op.execute("DROP TRIGGER task_runs_notify_ended ON task_runs")
    op.execute("DROP FUNCTION scheduler_notify_run_ended()")
