"""References to named secrets inside task parameters, and the masking of their values.

A parameter value that may be sensitive (an ``environment`` value, an HTTP
header value, the HTTP ``body``, an HTTP ``query`` value) may be given as
``{"secret": "NAME"}`` instead of a string. The reference is what is stored,
shown and sent through Temporal; the executor swaps in the value when the
attempt starts, and masks it in everything the attempt reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import quote, quote_plus

import msgspec

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"  # noqa: S105 (a name rule)
"""A letter or ``_`` first, then letters, digits, ``_``, ``.``, ``-``; at most 128 characters."""

SecretName = Annotated[str, msgspec.Meta(pattern=SECRET_NAME_PATTERN)]

MASK = "***"

MAPPED_FIELDS = ("environment", "headers", "query")
"""Parameter maps whose values may be references."""
SCALAR_FIELDS = ("body",)
"""Parameters that may themselves be a reference."""

_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretRef(msgspec.Struct, forbid_unknown_fields=True):
    """``{"secret": "NAME"}``: the value of secret NAME, resolved on the worker."""

    secret: SecretName


def ref_name(value: object) -> str | None:
    """NAME when ``value`` (builtins, as stored) is ``{"secret": NAME}``, else None."""
    if isinstance(value, dict) and set(value) == {"secret"}:
        name = value["secret"]
        if isinstance(name, str) and _NAME.match(name):
            return name
    return None


def references(parameters: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, secret name)`` of every reference in validated parameters, as stored."""
    for field in MAPPED_FIELDS:
        values = parameters.get(field)
        if isinstance(values, dict):
            for key, value in values.items():
                if (name := ref_name(value)) is not None:
                    yield f"parameters.{field}.{key}", name
    for field in SCALAR_FIELDS:
        if (name := ref_name(parameters.get(field))) is not None:
            yield f"parameters.{field}", name


def referenced_names(parameters: Mapping[str, Any]) -> set[str]:
    return {name for _, name in references(parameters)}


def substitute(parameters: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """``parameters`` with every reference replaced by its value (``values`` holds each name)."""
    out = dict(parameters)
    for field in MAPPED_FIELDS:
        mapped = out.get(field)
        if isinstance(mapped, dict):
            out[field] = {key: _resolved(value, values) for key, value in mapped.items()}
    for field in SCALAR_FIELDS:
        if field in out:
            out[field] = _resolved(out[field], values)
    return out


def _resolved(value: Any, values: Mapping[str, str]) -> Any:
    name = ref_name(value)
    return value if name is None else values[name]


def text(value: str | SecretRef) -> str:
    """A resolved parameter value; a reference left unresolved is a programming error."""
    if isinstance(value, SecretRef):
        raise TypeError(f"secret {value.secret!r} was not resolved before use")
    return value


def texts(values: Mapping[str, str | SecretRef]) -> dict[str, str]:
    return {key: text(value) for key, value in values.items()}


class Masker:
    """Replaces every form a secret value may take in output with ``***``.

    Besides the value itself, its URL-encoded forms are masked: a query
    value appears encoded in URLs and in the messages that quote them.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            if value:
                forms.update({value, quote(value, safe=""), quote_plus(value, safe="")})
        # Longest first: a value containing another is masked whole.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, output: str) -> str:
        for form in self._forms:
            output = output.replace(form, MASK)
        return output
