"""Secret values at rest: sealed with AES-GCM under a key derived from the payload key.

Each sealed value keeps the id of the payload key it was sealed with, so a
rotated ring (a new first key, the old ones still listed) opens every stored
value and seals new ones with the new key. The secret's name is associated
data: a ciphertext copied to another name does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from settings import PayloadKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PURPOSE = b"scheduler secret encryption v1"
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """A stored value that the configured keys cannot open."""


class SecretSealer:
    """The payload key ring, as it seals and opens secret values."""

    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise ValueError("sealing secrets needs at least one payload key")
        self._keys = {
            key.kid: hmac.new(key.secret.encode(), _PURPOSE, hashlib.sha256).digest()
            for key in keys
        }
        self._ciphers: dict[str, AESGCM] = {}
        self._current = keys[0].kid

    def _cipher(self, key_id: str) -> AESGCM:
        """The cipher of a key of the ring, built on first use: cryptography's
        bindings are ~7 MiB a process keeps, and only handling secrets needs them."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = self._ciphers[key_id] = AESGCM(self._keys[key_id])
        return cipher

    def seal(self, name: str, value: str) -> tuple[str, bytes]:
        """``(key id, nonce + ciphertext)`` of ``value`` under the current key."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._cipher(self._current).encrypt(
            nonce, value.encode(), _associated(self._current, name)
        )
        return self._current, nonce + sealed

    def open(self, name: str, key_id: str, data: bytes) -> str:
        """The value sealed as ``name``; ``SecretUnreadable`` when no configured key opens it."""
        if key_id not in self._keys:
            raise SecretUnreadable(
                f"secret {name!r} is sealed with payload key {key_id!r}, "
                "which SCHEDULER_PAYLOAD_KEY no longer lists"
            )
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._cipher(key_id).decrypt(
                data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(key_id, name)
            )
        except InvalidTag as exc:
            raise SecretUnreadable(f"secret {name!r} does not open with its key") from exc
        return plain.decode()


def _associated(key_id: str, name: str) -> bytes:
    return b"\x00".join((b"scheduler-secret-v1", key_id.encode(), name.encode()))
