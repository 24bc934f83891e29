"""The one way a timestamp is written out as text: RFC 3339 in UTC with a ``Z``.

Response bodies encoded by msgspec already write aware datetimes this way;
this is for the places that build the text themselves (the envelope's
``timestamp``, the rate limiter's 429, JSON logs, benchmark reports).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

TimeSpec = Literal["auto", "seconds", "milliseconds", "microseconds"]


def rfc3339(moment: datetime, timespec: TimeSpec = "seconds") -> str:
    """``moment`` (aware) in UTC, e.g. ``2026-12-01T10:55:09Z`` at the default precision."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
