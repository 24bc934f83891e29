"""Durations and times as people type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cli.errors import CliError
from cli.times import parse_duration, parse_moment, relative, show_duration_ms

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("7d", 604800), ("2w", 1209600), ("1h30m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "7", "d7", "7days", "1h-30m"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(CliError, match="not a duration"):
        parse_duration(text)


def test_moments() -> None:
    assert parse_moment("now", NOW) == NOW
    assert parse_moment("3d", NOW) == NOW - timedelta(days=3)
    assert parse_moment("2026-02-01T09:00", NOW) == datetime(2026, 2, 1, 9, tzinfo=UTC)
    assert parse_moment("2026-02-01T09:00+01:00", NOW) == datetime(2026, 2, 1, 8, tzinfo=UTC)
    with pytest.raises(CliError, match="not a time"):
        parse_moment("yesterday", NOW)


def test_readable_spans() -> None:
    assert relative("2026-03-01T12:04:00Z", NOW) == "in 4m"
    assert relative("2026-03-01T09:00:00Z", NOW) == "3h ago"
    assert show_duration_ms(840) == "840 ms"
    assert show_duration_ms(12_340) == "12.3 s"
    assert show_duration_ms(245_000) == "4m 05s"
