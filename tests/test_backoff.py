"""The one retry-with-backoff helper the processes connect through."""

from __future__ import annotations

import asyncio

import pytest

from backoff import retry_with_backoff


def test_retries_the_failures_it_is_told_to_and_returns_the_result() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(len(calls))
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return "up"

    result = asyncio.run(
        retry_with_backoff(
            flaky, retry_on=(ConnectionError,), within_seconds=0, what="x", first_delay=0.001
        )
    )
    assert result == "up"
    assert len(calls) == 3


def test_gives_up_after_its_window_with_the_last_failure() -> None:
    async def down() -> None:
        raise ConnectionError("still down")

    with pytest.raises(ConnectionError, match="still down"):
        asyncio.run(
            retry_with_backoff(
                down, retry_on=(ConnectionError,), within_seconds=0.01, what="x", first_delay=0.005
            )
        )


def test_other_failures_are_not_retried() -> None:
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise ValueError("bad configuration")

    with pytest.raises(ValueError, match="bad configuration"):
        asyncio.run(
            retry_with_backoff(broken, retry_on=(ConnectionError,), within_seconds=0, what="x")
        )
    assert calls == [1]
