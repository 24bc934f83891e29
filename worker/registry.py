"""An executor worker's row in the registry: registered at start, heartbeated, Down at stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import workers

log = logging.getLogger(__name__)


def outbound_ip(towards_host: str) -> str:
    """The local address this host uses to reach ``towards_host`` (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((towards_host, 9))
            address: str = probe.getsockname()[0]
            return address
    except OSError:
        return "127.0.0.1"


class WorkerRegistration:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        worker_id: str,
        task_types: list[str],
        max_concurrent_tasks: int,
        ip_address: str,
        in_flight: Callable[[], int],
    ) -> None:
        self._sessions = sessions
        self.worker_id = worker_id
        self._task_types = task_types
        self._max = max_concurrent_tasks
        self._ip = ip_address
        self._in_flight = in_flight

    async def register(self) -> None:
        async with self._sessions() as session, session.begin():
            await workers.register(
                session,
                worker_id=self.worker_id,
                hostname=socket.gethostname(),
                ip_address=self._ip,
                task_types=self._task_types,
                max_concurrent_tasks=self._max,
                now=datetime.now(UTC),
            )
        log.info("worker %s registered (%s)", self.worker_id, ", ".join(self._task_types))

    async def heartbeat_forever(self, every_seconds: float, stop: asyncio.Event) -> None:
        """Heartbeat until ``stop``; a DB outage delays heartbeats, it never stops the worker."""
        while not stop.is_set():
            try:
                async with self._sessions() as session, session.begin():
                    found = await workers.heartbeat(
                        session, self.worker_id, self._in_flight(), datetime.now(UTC)
                    )
                if not found:
                    await self.register()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("worker %s heartbeat failed (%s); retrying", self.worker_id, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    async def mark_down(self) -> None:
        """Called on a clean shutdown, so the registry shows Down at once."""
        try:
            async with self._sessions() as session, session.begin():
                await workers.mark_down(session, self.worker_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not mark worker %s Down (%s)", self.worker_id, exc)
