"""The Temporal boundary: every payload our processes write is signed, and can be encrypted.

A payload keeps its data and encoding (the Web UI shows it in clear) and gains
two metadata entries: the id of the key that signed it and an HMAC-SHA256 over
the key id, the encoding and the data. Reaching Temporal's port is then not
enough to make our workers run anything: a payload written without the key
has no valid signature, and decoding refuses it.

With encryption on, the payload is first sealed whole (AES-GCM, the key id as
associated data) into one of encoding ``binary/scheduler-encrypted``; the
signature then covers the sealed form.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from settings import PayloadKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_ID = "scheduler-key-id"
SIGNATURE = "scheduler-signature"
ENCRYPTED = b"binary/scheduler-encrypted"
REJECTED = b"binary/scheduler-rejected"
"""The encoding of the stand-in a marking codec puts where it refused a payload."""

UNSIGNED_PAYLOAD = "UnsignedPayload"
"""Error type of every refusal, on both sides of the boundary."""

_NONCE_BYTES = 12


class PayloadRejected(ApplicationError):
    """A payload without a valid signature: nothing it asks for may run."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"refused a Temporal payload: {reason}", type=UNSIGNED_PAYLOAD, non_retryable=True
        )


@dataclass(slots=True)
class _Key:
    kid: bytes
    signing: bytes
    sealing_key: bytes
    _sealing: AESGCM | None = field(default=None, repr=False, compare=False)

    @property
    def sealing(self) -> AESGCM:
        """The AES-GCM cipher of this key, built on first use: cryptography's
        bindings are ~7 MiB a process keeps, and only encryption needs them."""
        if self._sealing is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._sealing = AESGCM(self.sealing_key)
        return self._sealing


def _derive(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


class PayloadKeyRing:
    """The configured keys: the first signs and seals, every one verifies and opens."""

    def __init__(self, keys: Sequence[PayloadKey]) -> None:
        if not keys:
            raise ValueError("a payload key ring needs at least one key")
        self._keys = {
            key.kid.encode(): _Key(
                kid=key.kid.encode(),
                signing=_derive(key.secret, b"scheduler payload signature v1"),
                sealing_key=_derive(key.secret, b"scheduler payload encryption v1"),
            )
            for key in keys
        }
        self._current = self._keys[keys[0].kid.encode()]

    @property
    def current(self) -> _Key:
        return self._current

    def get(self, kid: bytes) -> _Key | None:
        return self._keys.get(kid)


def _signature(key: _Key, encoding: bytes, data: bytes) -> bytes:
    message = b"".join(
        (b"v1", struct.pack(">I", len(key.kid)), key.kid, struct.pack(">I", len(encoding)))
    )
    return hmac.new(key.signing, message + encoding + data, hashlib.sha256).digest()


def _describe(context: SerializationContext | None) -> str:
    if isinstance(context, ActivitySerializationContext):
        kind = "local activity" if context.is_local else "activity"
        return f"{kind} {context.activity_type or '?'} of workflow {context.workflow_id or '?'}"
    if isinstance(context, WorkflowSerializationContext):
        return f"workflow {context.workflow_id}"
    return "a payload"


class SigningCodec(PayloadCodec, WithSerializationContext):
    """Signs (and optionally seals) what we write; refuses what nobody with the key wrote.

    ``mark_rejected`` chooses how a refusal surfaces: raise ``PayloadRejected``
    (workflow workers: the SDK then fails the workflow, non-retryably), or put a
    ``binary/scheduler-rejected`` stand-in in the payload's place (executors:
    the SDK would wrap a raised error as retryable, so an interceptor refuses
    the stand-in instead, non-retryably and before anything runs).
    """

    def __init__(
        self,
        keys: PayloadKeyRing,
        *,
        encrypt: bool = False,
        accept_unsigned_until: datetime | None = None,
        mark_rejected: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        context: SerializationContext | None = None,
    ) -> None:
        self._keys = keys
        self._encrypt = encrypt
        self._accept_unsigned_until = accept_unsigned_until
        self._mark_rejected = mark_rejected
        self._clock = clock
        self._context = context

    def with_context(self, context: SerializationContext) -> SigningCodec:
        return SigningCodec(
            self._keys,
            encrypt=self._encrypt,
            accept_unsigned_until=self._accept_unsigned_until,
            mark_rejected=self._mark_rejected,
            clock=self._clock,
            context=context,
        )

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        """``payload`` signed with the current key (and encrypted when configured)."""
        key = self._keys.current
        if self._encrypt:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = key.sealing.encrypt(nonce, payload.SerializeToString(), key.kid)
            out = Payload(metadata={"encoding": ENCRYPTED}, data=nonce + sealed)
        else:
            out = Payload()
            out.CopyFrom(payload)
        out.metadata[KEY_ID] = key.kid
        out.metadata[SIGNATURE] = _signature(key, out.metadata.get("encoding", b""), out.data)
        return out

    def open(self, payload: Payload) -> Payload:
        """The payload as it was before ``seal``, or a refusal when its signature does not hold."""
        if SIGNATURE not in payload.metadata and self._unsigned_accepted():
            log.warning(
                "accepting an unsigned payload (%s) inside the upgrade window "
                "SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL",
                _describe(self._context),
            )
            return payload
        opened = self._verified(payload)
        if isinstance(opened, str):
            return self._reject(opened)
        return opened

    def readable(self, payload: Payload) -> Payload:
        """For display (the Web UI's codec endpoint): opened when it verifies, else as it is."""
        opened = self._verified(payload)
        return payload if isinstance(opened, str) else opened

    def _verified(self, payload: Payload) -> Payload | str:
        """The opened payload, or why it cannot be trusted."""
        signature = payload.metadata.get(SIGNATURE)
        if signature is None:
            return "it carries no signature"
        kid = payload.metadata.get(KEY_ID, b"")
        key = self._keys.get(kid)
        if key is None:
            return f"it is signed with an unknown key id {kid.decode(errors='replace')!r}"
        encoding = payload.metadata.get("encoding", b"")
        if not hmac.compare_digest(signature, _signature(key, encoding, payload.data)):
            return "its signature does not match its content"
        if encoding == ENCRYPTED:
            from cryptography.exceptions import InvalidTag

            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            try:
                return Payload.FromString(key.sealing.decrypt(nonce, sealed, key.kid))
            except InvalidTag:
                return "it cannot be decrypted with its key"
        out = Payload()
        out.CopyFrom(payload)
        del out.metadata[KEY_ID]
        del out.metadata[SIGNATURE]
        return out

    def _unsigned_accepted(self) -> bool:
        until = self._accept_unsigned_until
        return until is not None and self._clock() < until

    def _reject(self, reason: str) -> Payload:
        log.error(
            "refused %s from Temporal: %s; nothing it asks for runs "
            "(was it written by a client without SCHEDULER_PAYLOAD_KEY?)",
            _describe(self._context),
            reason,
        )
        if self._mark_rejected:
            return Payload(metadata={"encoding": REJECTED}, data=reason.encode())
        raise PayloadRejected(reason)
