"""Task parameters as the console shows them: credential-like header values masked."""

from __future__ import annotations

from typing import Any

MASK = "••••••"
SENSITIVE_WORDS = ("authorization", "cookie", "token", "secret", "password", "api-key", "apikey")


def sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


def shown_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with plain header values whose name looks like a credential masked.

    A secret reference (``{"secret": NAME}``) is shown as written: it names
    the secret, not its value. Put credentials in named secrets: a plain
    value is still readable through the API by every reader.
    """
    shown = dict(parameters)
    headers = parameters.get("headers")
    if isinstance(headers, dict):
        shown["headers"] = {
            name: MASK if isinstance(value, str) and sensitive(name) else value
            for name, value in headers.items()
        }
    return shown
