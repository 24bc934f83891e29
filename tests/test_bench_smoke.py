"""Every benchmark still runs to its end and prints its figures (at a tiny size).

Benchmarks are not timed tests: nothing here checks a figure against a
target, only that each one was measured, printed and written as JSON. They
run in this process, as ``make bench-smoke`` runs them, sharing its stacks.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.smoke import POSTGRES_ONLY, SMOKE, backend_arguments
from bench.stack import shared_stacks


@pytest.fixture(scope="module")
def smoke_stacks() -> Iterator[None]:
    with shared_stacks():
        yield


@pytest.mark.parametrize("name", list(SMOKE))
def test_benchmark_runs_and_prints_its_figures(
    name: str, tmp_path: Path, smoke_stacks: None, capsys: pytest.CaptureFixture[str]
) -> None:
    if name in POSTGRES_ONLY and not os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip():
        pytest.skip(f"{name} seeds Postgres: set SCHEDULER_TEST_DATABASE_URL")
    module = importlib.import_module(f"bench.{name}")
    argv = [*SMOKE[name], *backend_arguments(name), "--results-dir", str(tmp_path)]
    assert module.main(argv) == 0
    stdout = capsys.readouterr().out
    assert f"== {name} (" in stdout, stdout
    assert "load average before" in stdout, stdout
    document = json.loads((tmp_path / f"{name}.json").read_text())
    assert document["figures"], document
    measured = [figure for figure in document["figures"] if figure["value"] is not None]
    assert measured, document["figures"]
    for figure in document["figures"]:
        assert figure["name"] in stdout, figure
