"""Retrying a connection with capped exponential backoff, as every process does at start.

A top-level module beside ``settings.py`` so that ``persistence`` (the
database) and ``workflows`` (Temporal) can both use it without importing
each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


async def retry_with_backoff(
    attempt: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[Exception], ...],
    within_seconds: float,
    what: str,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> T:
    """``attempt()``'s result, calling it again after each ``retry_on`` failure.

    The delay doubles from ``first_delay`` up to ``max_delay``. ``within_seconds``
    > 0 gives up after that long (re-raising the last failure); 0 retries as
    long as it takes, so a process started before its dependency never crashes
    in a loop. Each retry is logged as ``<what> not reachable yet``.
    """
    deadline = time.monotonic() + within_seconds if within_seconds > 0 else float("inf")
    delay = first_delay
    while True:
        try:
            return await attempt()
        except retry_on as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("%s not reachable yet (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
