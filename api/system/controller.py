"""``/health``: a cheap liveness probe, no auth, never rate limited."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from litestar import get

from api.envelope import Envelope, ok


class Liveness(msgspec.Struct):
    status: str
    timestamp: datetime


@get("/health", tags=["system"], summary="Liveness probe")
async def health() -> Envelope[Liveness]:
    return ok(Liveness(status="healthy", timestamp=datetime.now(UTC).replace(microsecond=0)))
