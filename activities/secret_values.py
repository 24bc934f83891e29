"""The values of the secrets an attempt's parameters reference, read when it starts."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from persistence import secret_store
from persistence.secret_sealing import SecretSealer, SecretUnreadable


class SecretMissing(Exception):
    """A referenced secret that no longer exists (or cannot be opened)."""


class SecretResolver:
    """Reads and opens secret values on the worker; nothing else ever sees them in clear."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], sealer: SecretSealer) -> None:
        self._sessions = sessions
        self._sealer = sealer

    async def values(self, names: Collection[str]) -> dict[str, str]:
        """Each name's value; ``SecretMissing`` naming the first that is gone or unreadable."""
        async with self._sessions() as session:
            rows = await secret_store.with_names(session, names)
        gone = sorted(set(names) - set(rows))
        if gone:
            raise SecretMissing(
                f"secret {gone[0]!r} does not exist (deleted after the task referenced it?)"
            )
        try:
            return {
                name: self._sealer.open(name, row.key_id, row.ciphertext)
                for name, row in rows.items()
            }
        except SecretUnreadable as exc:
            raise SecretMissing(str(exc)) from None
