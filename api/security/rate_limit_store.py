"""Fixed-window request counters: in-process, or in Redis so API instances share a budget."""

from __future__ import annotations

from typing import Protocol


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


def make_store(redis_url: str) -> CounterStore:
    if not redis_url:
        return MemoryStore()
    # Imported only when configured: the Redis client is ~5 MiB a process keeps.
    from api.security.redis_counter_store import FailOpenStore, RedisStore

    return FailOpenStore(RedisStore(redis_url))
