"""The detailed health report: the database and Temporal probed for real, each within 2 s."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.system.schemas import ConnectionStatus, HealthStatus, SystemHealthOut

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0


def overall_status(database_up: bool, temporal_up: bool) -> HealthStatus:
    if database_up and temporal_up:
        return "healthy"
    if database_up or temporal_up:
        return "degraded"
    return "unhealthy"


def _connection(up: bool) -> ConnectionStatus:
    return "connected" if up else "disconnected"


class HealthProbe:
    """Answers with the truth within about two seconds, whatever is down."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client) -> None:
        self._sessions = sessions
        self._client = client
        self._started = time.monotonic()

    async def report(self) -> SystemHealthOut:
        database_up, temporal_up = await asyncio.gather(self._database(), self._temporal())
        return SystemHealthOut(
            status=overall_status(database_up, temporal_up),
            database_status=_connection(database_up),
            message_queue_status=_connection(temporal_up),
            uptime_seconds=int(time.monotonic() - self._started),
            timestamp=datetime.now(UTC).replace(microsecond=0),
        )

    async def _database(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS), self._sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # whatever fails, the database is not usable now
            log.warning("health: database probe failed: %r", exc)
            return False
        return True

    async def _temporal(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                return await self._client.service_client.check_health(
                    timeout=timedelta(seconds=PROBE_TIMEOUT_SECONDS)
                )
        except Exception as exc:  # connection refused, timeout, RPC error: all "down"
            log.warning("health: Temporal probe failed: %r", exc)
            return False
