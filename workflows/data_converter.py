"""The data converter every process uses to talk to Temporal: signed payloads, refusals."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
)

from settings import Settings
from workflows.payload_codec import REJECTED, PayloadKeyRing, SigningCodec


@dataclass(frozen=True)
class RejectedPayload:
    """Stands where an executor's codec refused a payload; refused again before anything runs."""

    reason: str


class _RejectedPayloadConverter(EncodingPayloadConverter):
    """Reads the codec's stand-in as a ``RejectedPayload``, whatever type was expected."""

    @property
    def encoding(self) -> str:
        return REJECTED.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        return RejectedPayload(payload.data.decode(errors="replace"))


class _MarkingPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            _RejectedPayloadConverter(),
            *DefaultPayloadConverter.default_encoding_payload_converters,
        )


def data_converter(settings: Settings, *, mark_rejected: bool = False) -> DataConverter:
    """The deployment's converter: JSON payloads, signed (and sealed when configured).

    ``mark_rejected`` is for executors (see ``SigningCodec``): a refused input
    arrives as a ``RejectedPayload`` that ``worker.payload_guard`` refuses.
    """
    codec = SigningCodec(
        PayloadKeyRing(settings.payload_keys),
        encrypt=settings.payload_encryption,
        accept_unsigned_until=settings.payload_accept_unsigned_until,
        mark_rejected=mark_rejected,
    )
    converter = dataclasses.replace(DataConverter.default, payload_codec=codec)
    if mark_rejected:
        converter = dataclasses.replace(converter, payload_converter_class=_MarkingPayloadConverter)
    return converter
