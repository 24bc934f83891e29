"""The plan as a diff: what each line of ``apply`` says for a create, an update, a delete."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cli import plan_view


def text_of(renderable: Any) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


PLAN: dict[str, Any] = {
    "dry_run": True,
    "prune": True,
    "create": [
        {
            "name": "load",
            "id": None,
            "definition": {"name": "load", "task_type": "http", "schedule": "30 2 * * *"},
        }
    ],
    "update": [
        {
            "name": "extract",
            "id": 10,
            "changes": {
                "schedule": {"old": "0 1 * * *", "new": "0 2 * * *"},
                "dependencies": {"old": ["seed"], "new": []},
                "parameters": {
                    "old": {"command": "a", "environment": {"X": "1"}},
                    "new": {"command": "b", "shell": "/bin/bash"},
                },
            },
        }
    ],
    "unchanged": [{"name": "report", "id": 11}],
    "delete": [
        {"name": "old-job", "id": 7, "definition": {"task_type": "shell", "schedule": "@daily"}}
    ],
    "ids": None,
}


def test_the_plan_reads_as_a_diff() -> None:
    written = {"load": {"name": "load", "task_type": "http", "parameters": {"url": "http://x/"}}}
    lines = [line.rstrip() for line in text_of(plan_view.render(PLAN, written)).splitlines()]
    assert "  + create  load  http · 30 2 * * *" in lines
    assert '      + parameters.url: "http://x/"' in lines
    assert "  ~ update  extract" in lines
    assert '      schedule: "0 1 * * *" → "0 2 * * *"' in lines
    assert "      dependencies: [seed] → []" in lines
    assert '      parameters.command: "a" → "b"' in lines
    assert '      - parameters.environment.X: "1"' in lines
    assert '      + parameters.shell: "/bin/bash"' in lines
    assert "  - delete  old-job  shell · @daily" in lines
    assert "  = unchanged  report" in lines
    assert lines[-1] == "Plan: 1 to create, 1 to update, 1 to delete, 1 unchanged."


def test_an_applied_plan_says_what_was_done() -> None:
    applied = {**PLAN, "dry_run": False, "ids": {"load": 12, "extract": 10, "report": 11}}
    assert text_of(plan_view.summary(applied)).strip() == (
        "Applied: 1 created, 1 updated, 1 deleted, 1 unchanged."
    )
    assert plan_view.has_changes(applied)
    nothing = {"create": [], "update": [], "delete": [], "unchanged": [{"name": "a"}]}
    assert not plan_view.has_changes(nothing)
    assert plan_view.actions(PLAN) == {
        "create": ["load"],
        "update": ["extract"],
        "delete": ["old-job"],
    }
