"""``scheduler_task_fires_late_total``: late fires the orchestrator's fire watch recorded."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.notifications import Event
from persistence import fire_reports

_LATE = Event.LATE.value


class LateFireTally:
    """A process-wide count of ``late`` reports recorded since this process started.

    The fire watch (in the orchestrator, which has no HTTP server) writes one
    row per late fire; each read counts the rows added since the previous
    one, so the count only grows and starts at 0 with the process.
    """

    def __init__(self) -> None:
        self._after_id: int | None = None
        self.total = 0

    async def update(self, session: AsyncSession) -> int:
        """Count the late reports recorded since the last read; the running total."""
        if self._after_id is None:
            _, self._after_id = await fire_reports.count_after(session, _LATE, 0)
            return self.total
        added, self._after_id = await fire_reports.count_after(session, _LATE, self._after_id)
        self.total += added
        return self.total
