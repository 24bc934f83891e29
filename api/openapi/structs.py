"""msgspec Structs in the OpenAPI document, described by msgspec's own JSON Schema.

Request bodies are decoded and responses encoded by msgspec, so msgspec's schema
generator is the one that cannot drift from what the server accepts and sends:
it keeps every ``Meta`` constraint (list items included), writes
``additionalProperties: false`` for structs that refuse unknown fields, leaves
``UNSET`` fields out of ``required`` and names enums as components.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import msgspec
from litestar.openapi.spec import Reference, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

REF_TEMPLATE = "#/components/schemas/{name}"

_SCHEMA_FIELDS = {field.metadata.get("alias", field.name): field.name for field in fields(Schema)}
_ONE_SCHEMA = {
    "items",
    "not",
    "contains",
    "additionalProperties",
    "propertyNames",
    "if",
    "then",
    "else",
}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "$defs"}


def spec_of(schema: dict[str, Any]) -> Schema | Reference:
    """A JSON Schema (as msgspec writes it) as Litestar's OpenAPI spec object."""
    if "$ref" in schema:
        return Reference(ref=schema["$ref"])
    arguments: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE_SCHEMA and isinstance(value, dict):
            value = spec_of(value)
        elif key in _SCHEMA_LISTS:
            value = [spec_of(item) for item in value]
        elif key in _SCHEMA_MAPS:
            value = {name: spec_of(item) for name, item in value.items()}
        arguments[_SCHEMA_FIELDS[key]] = value
    return Schema(**arguments)


class StructSchemas(OpenAPISchemaPlugin):
    """Refers to each Struct by its msgspec component; ``components()`` lists them all.

    Litestar asks the plugin about every Struct it meets while it builds the
    document. It answers with a bare ``allOf`` around the reference (Litestar
    looks a top-level reference up in its own registry, where msgspec's
    components are not), which :func:`unwrap` turns back into the reference
    once the document is built; the components of those types (and of the types
    they contain) are then added to the document.
    """

    def __init__(self, *extra: Any, refinements: dict[Any, dict[str, Any]] | None = None) -> None:
        """``extra``: types to describe even if no route names them; ``refinements``: schema
        keywords to add to a struct's own (rules across fields that msgspec cannot express)."""
        self._types: list[Any] = list(extra)
        self._refinements = {
            struct.__name__: rules for struct, rules in (refinements or {}).items()
        }

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and field_definition.is_subclass_of(msgspec.Struct)

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: object
    ) -> Schema:
        return Schema(all_of=[self.reference(field_definition.annotation)])

    def reference(self, annotation: Any) -> Reference:
        if annotation not in self._types:
            self._types.append(annotation)
        (schema,), _ = msgspec.json.schema_components([annotation], ref_template=REF_TEMPLATE)
        return Reference(ref=schema["$ref"])

    @staticmethod
    def unwrap(schema: Schema | Reference | None) -> Schema | Reference | None:
        """The reference inside a schema this plugin wrote; any other schema as it is."""
        if isinstance(schema, Schema) and schema.all_of and len(schema.all_of) == 1:
            (inner,) = schema.all_of
            if isinstance(inner, Reference) and schema == Schema(all_of=[inner]):
                return inner
        return schema

    def components(self) -> dict[str, Schema]:
        _, components = msgspec.json.schema_components(self._types, ref_template=REF_TEMPLATE)
        converted = {
            name: spec_of({**schema, **self._refinements.get(name, {})})
            for name, schema in components.items()
        }
        return {name: spec for name, spec in converted.items() if isinstance(spec, Schema)}
