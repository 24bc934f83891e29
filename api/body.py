"""Strict decoding of request bodies: malformed JSON is a 400, a broken rule a 422."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from activities.parameters import field_of
from api.errors import ApiError, ErrorCode, validation_error

T = TypeVar("T")


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode ``raw`` JSON into ``schema`` without type coercion."""
    if not raw.strip():
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Request body is required (JSON object)")
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise validation_error(field or "body", message) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"Malformed JSON: {exc}") from exc
