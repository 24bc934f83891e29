"""The schedule rules a task and a preview share: the cron, the zone, aware instants."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.errors import ApiError, ErrorCode, validation_error
from domain.cron import CronError, to_temporal_cron


def invalid_schedule(message: str) -> ApiError:
    return ApiError(
        422, ErrorCode.INVALID_SCHEDULE, f"Invalid schedule: {message}", {"field": "schedule"}
    )


def check_schedule(schedule: str) -> None:
    """422 ``INVALID_SCHEDULE`` unless croniter and Temporal read ``schedule`` alike."""
    try:
        to_temporal_cron(schedule)
    except CronError as exc:
        raise invalid_schedule(str(exc)) from exc


def check_timezone(timezone: str | None) -> None:
    """422 ``VALIDATION_ERROR`` on ``timezone`` unless it is an IANA zone (or None)."""
    if timezone is None:
        return
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise validation_error("timezone", f"{timezone!r} is not an IANA time zone") from exc


def check_aware(field: str, moment: datetime) -> None:
    """422 ``VALIDATION_ERROR`` on ``field`` for an instant without a UTC offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise validation_error(field, "must be an RFC 3339 time with an offset (e.g. Z)")
