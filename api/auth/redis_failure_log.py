"""Failed logins counted in the rate limiter's Redis, so every API instance sees them."""

from __future__ import annotations

import contextlib
import logging
from typing import cast

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from api.auth.login_backoff import WINDOW_SECONDS, MemoryFailureLog

log = logging.getLogger(__name__)


class RedisFailureLog:
    """A sorted set per key (score: the failure's time), shared by every API instance.

    If Redis is unreachable, failures are kept in this process meanwhile.
    """

    def __init__(self, url: str) -> None:
        self._redis = redis_asyncio.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._fallback = MemoryFailureLog()

    @staticmethod
    def _name(key: str) -> str:
        return f"scheduler:login-failures:{key}"

    async def add(self, key: str, at: float) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._name(key), {f"{at:.6f}": at})
                pipe.zremrangebyscore(self._name(key), "-inf", at - WINDOW_SECONDS)
                pipe.expire(self._name(key), WINDOW_SECONDS + 5)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("login failure store unavailable (%s); counting in this process", exc)
            await self._fallback.add(key, at)

    async def since(self, key: str, start: float) -> list[float]:
        try:
            scores = await self._redis.zrangebyscore(self._name(key), start, "+inf")
        except (RedisError, OSError):
            return await self._fallback.since(key, start)
        return sorted(float(cast(bytes, member)) for member in scores)

    async def clear(self, key: str) -> None:
        await self._fallback.clear(key)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._name(key))

    async def close(self) -> None:
        await self._redis.aclose()
