"""RFC 3339 strings on the Temporal boundary, aware datetimes everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_rfc3339(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
