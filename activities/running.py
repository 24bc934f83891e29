"""The executor's own mirror write: an attempt has started on this worker."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import runs

log = logging.getLogger(__name__)


class RunningReporter:
    """Marks a run ``Running`` with this worker and attempt.

    Best effort by design: if the database is unreachable the attempt still
    runs, and the final mirror write carries the same worker, attempt and
    start time, so nothing is lost.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self._sessions = sessions
        self.worker_id = worker_id

    async def report(self, task_run_id: int, attempt: int, started_at: datetime) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await runs.mark_running(
                    session, task_run_id, self.worker_id, attempt - 1, started_at
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not mark run %s Running (%s); continuing", task_run_id, exc)
