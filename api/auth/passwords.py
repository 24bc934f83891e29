"""Password hashing with Argon2id through the passlib API (the ``libpass`` distribution)."""

from __future__ import annotations

from passlib.context import CryptContext


def make_context(rounds: int, memory_kib: int) -> CryptContext:
    return CryptContext(
        schemes=["argon2"],
        deprecated="auto",
        argon2__type="ID",
        argon2__rounds=rounds,
        argon2__memory_cost=memory_kib,
    )


class PasswordHasher:
    """Argon2id with ``rounds`` passes over ``memory_kib`` KiB; a stored hash made with
    other parameters verifies and comes back upgraded (``verify``'s ``new_hash``)."""

    def __init__(self, *, rounds: int, memory_kib: int) -> None:
        self._context = make_context(rounds, memory_kib)
        # Verifying against this when the user does not exist makes an unknown
        # username cost the same time as a wrong password.
        self._dummy_hash = self._context.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        result: str = self._context.hash(password)
        return result

    def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """``(matches, new_hash)``; ``new_hash`` is set when the parameters changed."""
        if password_hash is None:
            self._context.verify(password, self._dummy_hash)
            return False, None
        ok, new_hash = self._context.verify_and_update(password, password_hash)
        return bool(ok), new_hash
