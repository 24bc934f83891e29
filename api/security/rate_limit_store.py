"""Fixed-window request counters: in-process, or in Redis so API instances share a budget."""

from __future__ import annotations

import logging
import time
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class CounterStore(Protocol):
    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one request under ``key`` and return the count so far in its window."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """Counters of this process only; old windows are dropped as new ones start."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window: str | None = None

    async def hit(self, key: str, window_seconds: int) -> int:
        window = key.rsplit(":", 1)[1]
        if window != self._window:
            # Keys carry their window start; anything from an older window is dead.
            self._counts = {k: v for k, v in self._counts.items() if k.endswith(f":{window}")}
            self._window = window
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    async def close(self) -> None:
        self._counts.clear()


class RedisStore:
    """``INCR`` + ``EXPIRE`` per key: atomic across every API instance using the same Redis."""

    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    async def hit(self, key: str, window_seconds: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(f"scheduler:ratelimit:{key}")
            pipe.expire(f"scheduler:ratelimit:{key}", window_seconds + 5)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self._redis.aclose()


class FailOpenStore:
    """Wraps a shared store: if it is unreachable, requests are counted locally instead.

    Refusing every request because the limiter's Redis is down would turn a
    cache outage into an API outage; per-instance limits still hold meanwhile.
    """

    def __init__(self, primary: CounterStore) -> None:
        self._primary = primary
        self._fallback = MemoryStore()
        self._warned_at = 0.0

    async def hit(self, key: str, window_seconds: int) -> int:
        try:
            return await self._primary.hit(key, window_seconds)
        except (RedisError, OSError) as exc:
            # Once a minute, not once a request: an outage must not flood the log.
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limit store unavailable (%s); counting in this process", exc)
            return await self._fallback.hit(key, window_seconds)

    async def close(self) -> None:
        await self._primary.close()
        await self._fallback.close()


def make_store(redis_url: str) -> CounterStore:
    return FailOpenStore(RedisStore(redis_url)) if redis_url else MemoryStore()
