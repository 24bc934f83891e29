"""Times as the API writes them (RFC 3339 UTC with ``Z``) and as people type and read them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from cli.errors import CliError

_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``6h``, ``7d``, ``2w`` or a combination such as ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(f"{n}{u}" for n, u in parts) != compact:
        raise CliError(f"{text!r} is not a duration such as 30m, 6h, 7d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def parse_moment(text: str, now: datetime) -> datetime:
    """``now``, a duration ago (``3d``), or an ISO 8601 time (UTC when it names no offset)."""
    stripped = text.strip()
    if stripped.lower() == "now":
        return now
    if _DURATION_PART.match(stripped.lower()) and not stripped[:4].isdigit():
        return now - parse_duration(stripped)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"{text!r} is not a time: give ISO 8601 (2026-03-01T09:00, UTC unless it has an "
            "offset), a duration ago (3d, 12h) or now"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_api_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def show_time(text: str | None) -> str:
    """``2026-03-01 09:00:05Z`` for the API's ``2026-03-01T09:00:05.123Z``; ``-`` for null."""
    if not text:
        return "-"
    return parse_api_time(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def relative(text: str | None, now: datetime) -> str:
    """``in 4m``, ``3h ago``: how far a time of the API is from ``now``."""
    if not text:
        return ""
    delta = (parse_api_time(text) - now).total_seconds()
    span = _span(abs(delta))
    return f"in {span}" if delta >= 0 else f"{span} ago"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours}h{rest // 60:02d}m" if rest >= 60 else f"{hours}h"
    return f"{int(seconds // 86400)}d"


def show_duration_ms(ms: int | float | None) -> str:
    """``840 ms``, ``12.3 s``, ``4m 05s``; ``-`` for null."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"
