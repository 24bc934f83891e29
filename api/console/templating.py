"""The console's Jinja2 environment: autoescaped templates and the filters pages format with."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cron_descriptor import FormatException, Options, get_description
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from domain.cron import ALIASES

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=4096)
def schedule_words(expression: str, timezone: str | None = None) -> str:
    """``0 9 * * 1-5`` in words ("At 09:00, Monday through Friday"), with its zone."""
    text = " ".join(expression.split())
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        words = get_description(ALIASES.get(text.lower(), text), options)
    except (FormatException, ValueError, KeyError, IndexError):
        return text
    return f"{words} ({timezone or 'UTC'})"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` relative to now: "in 4 min", "12 s ago", "3 d ago"."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = (moment - now).total_seconds()
    future, span = seconds > 0, abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if span >= size:
            amount = f"{int(span // size)} {unit}"
            break
    else:
        amount = f"{int(span)} s"
    if span < 1:
        return "now"
    return f"in {amount}" if future else f"{amount} ago"


def when(moment: datetime | None) -> str:
    """An absolute UTC time, to the second."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def wall_time(local: str) -> str:
    """An ISO 8601 time with offset as a person reads it: "Wed 2 Dec 2026, 09:00 (UTC+01:00)"."""
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        return local
    offset = moment.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} ({zone})"


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def duration(milliseconds: float | None) -> str:
    """A run's length: "350 ms", "1.2 s", "2 min 5 s", "1 h 4 min"."""
    if milliseconds is None:
        return "—"
    ms = float(milliseconds)
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def status_class(status: str | None) -> str:
    """The CSS modifier of a status badge: ``completed``, ``failed``, ``inactive``..."""
    return (status or "none").lower()


FILTERS = {
    "schedule_words": schedule_words,
    "ago": ago,
    "when": when,
    "iso": iso,
    "wall_time": wall_time,
    "duration": duration,
    "pretty_json": pretty_json,
    "status_class": status_class,
}


def environment() -> Environment:
    """Autoescaping on for every template: whatever a user typed is shown as text."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    engine = JinjaTemplateEngine.from_environment(environment())
    # Litestar registers helpers of its own CSRF middleware (not used here) and
    # of its URL routing; a template naming them by mistake must fail loudly, not
    # render a function's repr into a form.
    for name in ("csrf_token", "url_for", "url_for_static_asset"):
        engine.engine.globals.pop(name, None)
    return TemplateConfig(instance=engine)
