"""Strict decoding of request bodies: malformed JSON is a 400, a broken rule a 422."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from api.errors import ApiError, ErrorCode, validation_error

T = TypeVar("T")

_AT_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """``(field, message)`` from a msgspec validation error."""
    message = str(error)
    match = _AT_PATH.search(message)
    if match:
        return match.group("path") or "body", message[: match.start()]
    if "`" in message and ("unknown field" in message or "required field" in message):
        return message.split("`")[1], message
    return "body", message


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode ``raw`` JSON into ``schema`` without type coercion."""
    if not raw.strip():
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Request body is required (JSON object)")
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise validation_error(field, message) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"Malformed JSON: {exc}") from exc
