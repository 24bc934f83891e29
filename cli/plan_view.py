"""The plan of an apply as a coloured diff: ``+`` create, ``~`` update, ``-`` delete."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

ACTIONS = ("create", "update", "delete")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``parameters.url``); lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def show_value(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "[" + ", ".join(value) + "]"
    return json.dumps(value, ensure_ascii=False)


def field_changes(changes: dict[str, Any]) -> list[Text]:
    """One line per changed leaf: ``field: old → new``, ``+ field: new``, ``- field: old``."""
    lines: list[Text] = []
    for field, change in changes.items():
        old, new = change.get("old"), change.get("new")
        if isinstance(old, dict) and isinstance(new, dict):
            old_flat, new_flat = flatten(old, field), flatten(new, field)
            for key in [*old_flat, *(k for k in new_flat if k not in old_flat)]:
                if key not in new_flat:
                    lines.append(_line("-", key, old_flat[key], None))
                elif key not in old_flat:
                    lines.append(_line("+", key, None, new_flat[key]))
                elif old_flat[key] != new_flat[key]:
                    lines.append(_line("~", key, old_flat[key], new_flat[key]))
        else:
            lines.append(_line("~", field, old, new))
    return lines


def _line(mark: str, key: str, old: Any, new: Any) -> Text:
    text = Text("      ")
    if mark == "+":
        text.append(f"+ {key}: ", style="green")
        text.append(show_value(new), style="green")
    elif mark == "-":
        text.append(f"- {key}: ", style="red")
        text.append(show_value(old), style="red")
    else:
        text.append(f"{key}: ", style="yellow")
        text.append(show_value(old), style="red")
        text.append(" → ")
        text.append(show_value(new), style="green")
    return text


SUMMARISED = ("name", "task_type", "schedule", "timezone")
"""Fields a create's heading line shows (``+ create  name  shell · 0 * * * * · Europe/Paris``)."""


def _definition_lines(definition: dict[str, Any], style: str, mark: str) -> list[Text]:
    lines = []
    shown = {k: v for k, v in definition.items() if k not in SUMMARISED}
    for key, value in flatten(shown).items():
        line = Text(f"      {mark} {key}: ", style=style)
        line.append(show_value(value), style=style)
        lines.append(line)
    return lines


def _summary_of(definition: dict[str, Any]) -> str:
    parts = [str(definition.get("task_type", "")), str(definition.get("schedule", ""))]
    if definition.get("timezone"):
        parts.append(str(definition["timezone"]))
    return " · ".join(part for part in parts if part)


def render(
    plan: dict[str, Any], written: dict[str, dict[str, Any]] | None = None
) -> RenderableType:
    """The plan; ``written`` (name -> the definition as in the file) shows what a create sets."""
    written = written or {}
    parts: list[RenderableType] = []
    for item in plan["create"]:
        definition = written.get(item["name"]) or item.get("definition") or {}
        parts.append(
            _head(
                "+ create", "green", item["name"], _summary_of(item.get("definition") or definition)
            )
        )
        parts.extend(_definition_lines(definition, "green", "+"))
    for item in plan["update"]:
        parts.append(_head("~ update", "yellow", item["name"], ""))
        parts.extend(field_changes(item["changes"]))
    for item in plan["delete"]:
        parts.append(
            _head("- delete", "red", item["name"], _summary_of(item.get("definition") or {}))
        )
    if plan["unchanged"]:
        names = ", ".join(item["name"] for item in plan["unchanged"])
        parts.append(Text(f"  = unchanged  {names}", style="dim"))
    parts.append(Text(""))
    parts.append(summary(plan))
    return Group(*parts)


def _head(action: str, style: str, name: str, summary_text: str) -> Text:
    text = Text("  ")
    text.append(f"{action:<9}", style=f"bold {style}")
    text.append(" ")
    text.append(name, style="bold")
    if summary_text:
        text.append(f"  {summary_text}", style="dim")
    return text


def counts(plan: dict[str, Any]) -> dict[str, int]:
    return {key: len(plan[key]) for key in (*ACTIONS, "unchanged")}


def has_changes(plan: dict[str, Any]) -> bool:
    return any(plan[action] for action in ACTIONS)


def summary(plan: dict[str, Any]) -> Text:
    n = counts(plan)
    if plan.get("dry_run", True) or plan.get("ids") is None:
        text = Text("Plan: ", style="bold")
        verbs = ("to create", "to update", "to delete")
    else:
        text = Text("Applied: ", style="bold")
        verbs = ("created", "updated", "deleted")
    for index, (action, verb, style) in enumerate(
        zip(ACTIONS, verbs, ("green", "yellow", "red"), strict=True)
    ):
        if index:
            text.append(", ")
        text.append(f"{n[action]} {verb}", style=style if n[action] else "")
    text.append(f", {n['unchanged']} unchanged.", style="dim")
    return text


def actions(plan: dict[str, Any]) -> dict[str, list[str]]:
    """What a plan changes, by action: compares a confirmed plan with the one applied."""
    return {action: [item["name"] for item in plan[action]] for action in ACTIONS}
