"""Process-wide logging: human-readable lines, or one JSON object per line.

Every main calls :func:`configure_logging` once, with ``settings.log_format``.
Structured fields travel as ``extra={...}`` on a log call, or for a whole
scope (a request) through :func:`log_context`; the JSON format writes them as
keys, the text format leaves them to the message.

Values come from requests (paths, usernames, task names): every control
character in them is written escaped (``\\n``, ``\\x1b``, ``\\u2028``), so no value
can start a forged log line or drive the terminal reading the log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from api.timestamps import rfc3339

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# What a plain LogRecord carries; everything else on a record is a structured field
# (``temporal_log`` is the SDK core's raw record, already rendered into the message).
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "temporal_log",
}

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TRACEBACK_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_JSON_UNESCAPED = re.compile("[\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape: one line, no terminal codes."""
    return _CONTROL.sub(_escape_one, text)


def _escape_traceback(text: str) -> str:
    """A traceback keeps its line breaks; every other control character is escaped."""
    return _TRACEBACK_CONTROL.sub(_escape_one, text)


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT` lines whose message is escaped (tracebacks keep their lines)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return _escape_traceback(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _escape_traceback(super().formatStack(stack_info))


_context: ContextVar[Mapping[str, Any] | None] = ContextVar("log_context", default=None)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` to every record logged inside this block (this task only)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", ...structured fields, "exception"?}``"""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        payload: dict[str, Any] = {
            "time": rfc3339(moment, "milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # json escapes C0 controls itself; DEL, C1 and the line separators are
        # escaped too (they can only occur inside strings, where \\u escapes are valid).
        line = json.dumps(payload, default=str, ensure_ascii=False)
        return _JSON_UNESCAPED.sub(lambda match: f"\\u{ord(match.group()):04x}", line)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger of this process to stderr in ``log_format`` (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
        _forward_temporal_core_logs()
    else:
        handler.setFormatter(TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.captureWarnings(True)  # library warnings in the same format, not raw stderr


def _forward_temporal_core_logs() -> None:
    """The Temporal SDK's Rust core writes its own lines; route them through Python logging.

    Must run before the first Temporal client or worker exists (it replaces the
    SDK's default runtime, which is made on first use).
    """
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    forwarding = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=forwarding)), error_if_already_set=False
    )
