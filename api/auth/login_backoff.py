"""Failed logins back off per account, whichever IP they come from.

After ``THRESHOLD`` failures for one username within ``WINDOW_SECONDS``, that
username's logins are refused with 429 and ``Retry-After`` until a lockout
has passed: ``BASE_LOCK_SECONDS`` after the fifth failure, doubling with
each further one, at most ``WINDOW_SECONDS``. A success clears the count.
Unknown usernames are counted alike, so a lockout says nothing about whether
an account exists. The per-IP rate limit of ``/api/auth`` holds as well.

Failures are kept in this process, or in the rate limiter's Redis when one is
configured, so every API instance sees the same count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from api.errors import ApiError, ErrorCode
from api.timestamps import rfc3339

THRESHOLD = 5
WINDOW_SECONDS = 15 * 60
BASE_LOCK_SECONDS = 60


class FailureLog(Protocol):
    async def add(self, key: str, at: float) -> None:
        """Record one failure under ``key`` at epoch second ``at``."""
        ...

    async def since(self, key: str, start: float) -> list[float]:
        """The failures under ``key`` at or after ``start``, oldest first."""
        ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryFailureLog:
    """Failures seen by this process; each key keeps only its last window's."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}

    async def add(self, key: str, at: float) -> None:
        recent = [t for t in self._failures.get(key, []) if t > at - WINDOW_SECONDS]
        self._failures[key] = [*recent, at]
        if len(self._failures) > 100_000:  # a spray of made-up names must not grow memory
            cutoff = at - WINDOW_SECONDS
            self._failures = {k: v for k, v in self._failures.items() if v[-1] > cutoff}

    async def since(self, key: str, start: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if t >= start]

    async def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    async def close(self) -> None:
        self._failures.clear()


def lock_seconds(failures: int) -> int:
    """How long a username is locked after its ``failures``-th failure in the window."""
    if failures < THRESHOLD:
        return 0
    return int(min(BASE_LOCK_SECONDS * 2 ** (failures - THRESHOLD), WINDOW_SECONDS))


class LoginBackoff:
    def __init__(self, failures: FailureLog, clock: Callable[[], float] = time.time) -> None:
        self._failures = failures
        self._clock = clock

    @staticmethod
    def _key(username: str) -> str:
        return username.casefold()

    async def check(self, username: str) -> None:
        """Raise 429 ``RATE_LIMIT_EXCEEDED`` while ``username`` is locked out."""
        now = self._clock()
        recent = await self._failures.since(self._key(username), now - WINDOW_SECONDS)
        until = recent[-1] + lock_seconds(len(recent)) if recent else now
        if until > now:
            retry_after = max(1, int(until - now + 0.999))
            raise ApiError(
                429,
                ErrorCode.RATE_LIMIT_EXCEEDED,
                "Too many failed logins for this account. Try again later.",
                {
                    "reason": "login_backoff",
                    "failures": len(recent),
                    "reset_at": rfc3339(datetime.fromtimestamp(until, UTC)),
                },
                headers={"Retry-After": str(retry_after)},
            )

    async def failed(self, username: str) -> None:
        await self._failures.add(self._key(username), self._clock())

    async def succeeded(self, username: str) -> None:
        await self._failures.clear(self._key(username))

    async def close(self) -> None:
        await self._failures.close()


def make_login_backoff(redis_url: str) -> LoginBackoff:
    if not redis_url:
        return LoginBackoff(MemoryFailureLog())
    # Imported only when configured: the Redis client is ~5 MiB a process keeps.
    from api.auth.redis_failure_log import RedisFailureLog

    return LoginBackoff(RedisFailureLog(redis_url))
