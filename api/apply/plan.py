"""An apply's plan, and the problems of the task graph it would leave: pure, no I/O.

Tasks are keyed by name. A definition of the set whose name is on the server
updates that task (or leaves it unchanged), any other creates one; with
``prune`` every task on the server that the set does not name is deleted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from api.apply.decode import problem
from api.apply.schemas import ApplyProblem, FieldChange
from api.errors import ErrorCode


@dataclass(frozen=True)
class Wanted:
    """A definition of the set that passed its field rules, in canonical form."""

    index: int
    fields: dict[str, Any]
    """Every field of a task definition; ``dependencies`` as sorted, distinct names."""

    @property
    def name(self) -> str:
        name: str = self.fields["name"]
        return name

    @property
    def dependencies(self) -> list[str]:
        names: list[str] = self.fields["dependencies"]
        return names


@dataclass(frozen=True)
class Existing:
    """A task on the server, its definition in the same form as ``Wanted.fields``."""

    id: int
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        name: str = self.fields["name"]
        return name


@dataclass
class Plan:
    create: list[Wanted] = field(default_factory=list)
    update: list[tuple[Wanted, Existing, dict[str, FieldChange]]] = field(default_factory=list)
    unchanged: list[tuple[Wanted, Existing]] = field(default_factory=list)
    delete: list[Existing] = field(default_factory=list)
    """By name."""


def changes(wanted: Wanted, existing: Existing) -> dict[str, FieldChange]:
    """The fields whose value the definition changes, old -> new."""
    return {
        key: FieldChange(old=existing.fields.get(key), new=value)
        for key, value in wanted.fields.items()
        if existing.fields.get(key) != value
    }


def make_plan(existing: dict[str, Existing], wanted: list[Wanted], *, prune: bool) -> Plan:
    """What applying ``wanted`` over ``existing`` (by name) does, in the set's order."""
    plan = Plan()
    named = set()
    for definition in wanted:
        if definition.name in named:
            continue  # a duplicate: refused by graph_problems
        named.add(definition.name)
        current = existing.get(definition.name)
        if current is None:
            plan.create.append(definition)
        elif changed := changes(definition, current):
            plan.update.append((definition, current, changed))
        else:
            plan.unchanged.append((definition, current))
    if prune:
        plan.delete = [existing[name] for name in sorted(existing) if name not in named]
    return plan


def graph_problems(
    existing: dict[str, Existing],
    wanted: list[Wanted],
    set_names: dict[str, list[int]],
    *,
    prune: bool,
) -> list[ApplyProblem]:
    """Every problem of the graph the apply would leave.

    ``set_names`` maps each name the set gives (definitions that failed their
    field rules included, so a dependency on one is not reported again) to
    the positions that give it. Problems: a name given twice, a dependency
    on a name neither the set nor the server has, with ``prune`` one on a
    task prune would delete, and every task of the set on a cycle.
    """
    problems = [
        problem(index, name, "name", f"the set defines {name!r} more than once (at {indices})")
        for name, indices in set_names.items()
        if len(indices) > 1
        for index in indices
    ]
    for definition in wanted:
        for dependency in definition.dependencies:
            if dependency in set_names:
                continue
            if dependency not in existing:
                problems.append(
                    problem(
                        definition.index,
                        definition.name,
                        "dependencies",
                        f"unknown task {dependency!r}: neither in the set nor on the server",
                    )
                )
            elif prune:
                problems.append(
                    problem(
                        definition.index,
                        definition.name,
                        "dependencies",
                        f"depends on {dependency!r}, which prune would delete "
                        "(it is not in the set)",
                        ErrorCode.TASK_HAS_DEPENDENTS,
                    )
                )
    problems.extend(_cycles(existing, wanted, set_names, prune=prune))
    return problems


def _cycles(
    existing: dict[str, Existing],
    wanted: list[Wanted],
    set_names: dict[str, list[int]],
    *,
    prune: bool,
) -> list[ApplyProblem]:
    """A problem for each task of the set that the resulting graph puts on a cycle."""
    edges: dict[str, list[str]] = {}
    if not prune:
        edges.update((name, task.fields["dependencies"]) for name, task in existing.items())
    # The set's definitions replace the server's; one that failed its rules has no edges.
    edges.update((name, []) for name in set_names)
    edges.update((definition.name, definition.dependencies) for definition in wanted)
    found = []
    for definition in wanted:
        path = _path_back(definition.name, edges)
        if path is not None:
            found.append(
                problem(
                    definition.index,
                    definition.name,
                    "dependencies",
                    "dependency cycle: " + " -> ".join(path),
                    ErrorCode.DEPENDENCY_CYCLE,
                )
            )
    return found


def _path_back(start: str, edges: dict[str, list[str]]) -> list[str] | None:
    """The shortest path ``start -> ... -> start`` along ``edges``, if there is one."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in edges.get(node, []):
            if nxt == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(parents[chain[-1]])
                return [*reversed(chain), start]
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return None
