"""Strict decoding of request bodies: malformed JSON is a 400, a broken rule a 422.

Litestar's own decoding coerces types (``"5"`` becomes ``5``); ``StrictBody``
is a DTO that decodes with msgspec in strict mode instead, and describes the
body in the OpenAPI schema as the plain struct (see ``api.openapi.structs``).
Before the schema is applied, the document is checked as a whole: nesting
deeper than ``MAX_DEPTH`` is a 400 (msgspec itself would recurse until
Python's stack runs out), and a NUL character in any string, key or value, is
a 422 on every backend.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import msgspec
from litestar.dto import MsgspecDTO
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from api.errors import ApiError, ErrorCode, validation_error
from domain.parameters import field_of

NO_NUL = r"^[^\x00]*$"
"""Text the database can store and match: Postgres refuses NUL bytes in text, and
SQLite's LIKE stops at one (a filter would match too much)."""

MAX_DEPTH = 64
"""The deepest nesting of arrays and objects a body may have."""

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)


class SchemaCreator(Protocol):
    """What a DTO is handed to describe itself with: Litestar's schema generator."""

    def for_field_definition(self, field_definition: FieldDefinition) -> Schema | Reference: ...


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode ``raw`` JSON into ``schema`` without type coercion."""
    if not raw.strip():
        raise body_required()
    try:
        document = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, f"Malformed JSON: {exc}") from exc
    except RecursionError as exc:
        raise too_deep() from exc
    _check_document(document)
    try:
        return msgspec.convert(document, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise validation_error(field or "body", message) from exc


def _check_document(document: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and NUL characters anywhere in ``document``.

    Iterative, so no document can exhaust the stack while being checked.
    """
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise validation_error(path or "body", "must not contain a NUL character")
            continue
        if isinstance(value, dict | list) and depth >= MAX_DEPTH:
            raise too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{path}.{key}" if path else key
                if "\x00" in key:
                    raise validation_error(path or "body", "a key must not contain a NUL character")
                pending.append((item, inner, depth + 1))
        elif isinstance(value, list):
            items = enumerate(value)
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in items)


def too_deep() -> ApiError:
    return ApiError(
        400,
        ErrorCode.VALIDATION_ERROR,
        f"Malformed JSON: nested deeper than {MAX_DEPTH} levels",
        {"max_depth": MAX_DEPTH},
    )


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
