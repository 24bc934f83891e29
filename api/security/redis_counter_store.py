"""The request counters in Redis, shared by every API instance, and their local fallback."""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from api.security.rate_limit_store import CounterStore, MemoryStore

log = logging.getLogger(__name__)


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
