"""Strict decoding of request bodies: malformed JSON is a 400, a broken rule a 422.

Litestar's own decoding coerces types (``"5"`` becomes ``5``); ``StrictBody``
is a DTO that decodes with msgspec in strict mode instead, and describes the
body in the OpenAPI schema as the plain struct.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from litestar._openapi.schema_generation import SchemaCreator
from litestar.dto import MsgspecDTO
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from api.errors import ApiError, ErrorCode, validation_error
from domain.parameters import field_of

NO_NUL = r"^[^\x00]*$"
"""Text the database can store and match: Postgres refuses NUL bytes in text, and
SQLite's LIKE stops at one (a filter would match too much)."""

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode ``raw`` JSON into ``schema`` without type coercion."""
    if not raw.strip():
        raise body_required()
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise validation_error(field or "body", message) from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"Malformed JSON: {exc}") from exc


def body_required() -> ApiError:
    return ApiError(400, ErrorCode.VALIDATION_ERROR, "Request body is required (a JSON object)")


class StrictBody(MsgspecDTO[S], Generic[S]):
    """Use as ``dto=StrictBody[Schema], return_dto=None`` with a ``data: Schema`` parameter."""

    def decode_bytes(self, value: bytes) -> Any:
        return decode_body(value, self.model_type)

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))
