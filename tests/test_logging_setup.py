"""Log lines escape control characters in every value, in both formats."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from logging_setup import JsonFormatter, TextFormatter

HOSTILE = "admin\n2026-01-01 00:00:00,000 INFO api forged line\r\x1b[31mred\x00\x7f\x85\u2028end"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "test", "levelno": logging.INFO, "levelname": "INFO"})
    made.msg, made.args = message, args
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_text_lines_escape_every_control_character() -> None:
    line = TextFormatter().format(record("login failed for %s", HOSTILE))
    assert "\n" not in line and "\r" not in line
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in line)
    assert line.endswith(
        "login failed for admin\\n2026-01-01 00:00:00,000 INFO api forged line\\r"
        "\\x1b[31mred\\x00\\x7f\\x85\\u2028end"
    )


def test_text_tracebacks_keep_their_lines_but_escape_the_rest() -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        failed = record("boom")
        failed.exc_info = sys.exc_info()
    text = TextFormatter().format(failed)
    assert text.count("\n") >= 3  # the traceback's own lines
    assert "\x1b" not in text and "\x00" not in text and "\\x1b[31m" in text


@pytest.mark.parametrize(
    ("made", "key"),
    [(record("%s", HOSTILE), "message"), (record("login failed", username=HOSTILE), "username")],
    ids=["message", "field"],
)
def test_json_lines_escape_every_control_character(made: logging.LogRecord, key: str) -> None:
    line = JsonFormatter().format(made)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in line)
    assert json.loads(line)[key] == HOSTILE
