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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from settings import PayloadKey

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
            key.kid: AESGCM(hmac.new(key.secret.encode(), _PURPOSE, hashlib.sha256).digest())
            for key in keys
        }
        self._current = keys[0].kid

    def seal(self, name: str, value: str) -> tuple[str, bytes]:
        """``(key id, nonce + ciphertext)`` of ``value`` under the current key."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._keys[self._current].encrypt(
            nonce, value.encode(), _associated(self._current, name)
        )
        return self._current, nonce + sealed

    def open(self, name: str, key_id: str, data: bytes) -> str:
        """The value sealed as ``name``; ``SecretUnreadable`` when no configured key opens it."""
        key = self._keys.get(key_id)
        if key is None:
            raise SecretUnreadable(
                f"secret {name!r} is sealed with payload key {key_id!r}, "
                "which SCHEDULER_PAYLOAD_KEY no longer lists"
            )
        try:
            plain = key.decrypt(data[:_NONCE_BYTES], data[_NONCE_BYTES:], _associated(key_id, name))
        except InvalidTag as exc:
            raise SecretUnreadable(f"secret {name!r} does not open with its key") from exc
        return plain.decode()


def _associated(key_id: str, name: str) -> bytes:
    return b"\x00".join((b"scheduler-secret-v1", key_id.encode(), name.encode()))
