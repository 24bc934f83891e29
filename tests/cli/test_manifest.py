"""Reading task files: one file or a folder, every problem listed, paths beside the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import manifest
from cli.errors import CliError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tasks.yaml"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_file_has_one_task_of_each_type_and_a_dependency_by_name() -> None:
    definitions = manifest.load(EXAMPLE)
    assert sorted(d.body["task_type"] for d in definitions) == ["http", "python", "shell"]
    names = {d.name for d in definitions}
    depending = [d for d in definitions if d.body.get("dependencies")]
    assert len(depending) == 1
    assert set(depending[0].body["dependencies"]) <= names
    python = next(d for d in definitions if d.body["task_type"] == "python")
    script = Path(python.body["parameters"]["script_path"])
    assert script.is_absolute()
    assert script == EXAMPLE.parent / "report.py"
    assert script.is_file()


def test_a_folder_is_every_yaml_file_under_it_in_order(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "tasks:\n  - {name: b, task_type: shell}\n")
    write(tmp_path / "a" / "x.yml", "- {name: a, task_type: shell}\n")
    write(tmp_path / "notes.txt", "not read")
    assert [d.name for d in manifest.load(tmp_path)] == ["a", "b"]


def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    write(tmp_path / "1.yaml", "tasks:\n  - name: one\n  - name: one\n  - [not, a, mapping]\n")
    write(tmp_path / "2.yaml", "tasks:\n  - {task_type: shell}\nextra: 1\n")
    write(tmp_path / "3.yaml", "tasks:\n  - name: x\n    schedule: */5 * * * *\n")
    with pytest.raises(manifest.ManifestError) as caught:
        manifest.load(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 5, problems
    assert "1.yaml#2: task 'one' is also defined at" in problems
    assert "1.yaml#3: a task definition is a mapping" in problems
    assert "2.yaml#1: every task needs a `name`" in problems
    assert "unknown top-level key(s) extra" in problems
    assert "3.yaml:3:" in problems and "quote values that start with *" in problems


def test_values_reach_the_api_as_written(tmp_path: Path) -> None:
    file = write(
        tmp_path / "t.yaml",
        "tasks:\n  - name: t\n    task_type: python\n    note: 2026-03-01\n"
        "    parameters: {script_path: /abs/s.py, working_directory: sub/dir}\n",
    )
    (definition,) = manifest.load(file)
    assert definition.body["note"] == "2026-03-01"
    assert definition.body["parameters"] == {
        "script_path": "/abs/s.py",
        "working_directory": str(tmp_path / "sub" / "dir"),
    }


def test_missing_paths_and_empty_folders_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="does not exist"):
        manifest.load(tmp_path / "nope.yaml")
    with pytest.raises(CliError, match="holds no"):
        manifest.load(tmp_path)


def test_an_empty_file_defines_no_task(tmp_path: Path) -> None:
    assert manifest.load(write(tmp_path / "t.yaml", "# nothing yet\n")) == []


def test_the_readme_shows_the_example_file_as_it_is() -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Task files", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    example = EXAMPLE.read_text(encoding="utf-8")
    assert block == example[example.index("tasks:") :]
