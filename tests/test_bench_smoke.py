"""Every benchmark still runs to its end and prints its figures (at a tiny size).

Benchmarks are not timed tests: nothing here checks a figure against a
target, only that each one was measured, printed and written as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.smoke import POSTGRES_ONLY, SMOKE, backend_arguments

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(SMOKE))
def test_benchmark_runs_and_prints_its_figures(name: str, tmp_path: Path) -> None:
    if name in POSTGRES_ONLY and not os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip():
        pytest.skip(f"{name} seeds Postgres: set SCHEDULER_TEST_DATABASE_URL")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            f"bench.{name}",
            *SMOKE[name],
            *backend_arguments(name),
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    assert f"== {name} (" in completed.stdout, completed.stdout
    assert "load average before" in completed.stdout, completed.stdout
    document = json.loads((tmp_path / f"{name}.json").read_text())
    assert document["figures"], document
    measured = [figure for figure in document["figures"] if figure["value"] is not None]
    assert measured, document["figures"]
    for figure in document["figures"]:
        assert figure["name"] in completed.stdout, figure
