"""Prometheus in the tests: promtool, and reading the text format of a scrape."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


def _download_promtool(cache: Path) -> Path:
    """promtool from Debian's ``prometheus`` package, unpacked without installing a server."""

    def download() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["apt-get", "download", "prometheus"], cwd=cache, capture_output=True, text=True
        )

    fetched = download()
    if fetched.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
        fetched = download()
    packages = sorted(cache.glob("prometheus_*.deb"))
    if fetched.returncode != 0 or not packages:
        pytest.fail(f"promtool is required and could not be downloaded: {fetched.stderr}")
    subprocess.run(["dpkg", "-x", str(packages[-1]), str(cache / "root")], check=True)
    return cache / "root" / "usr" / "bin" / "promtool"


def find_promtool(cache: Path) -> str:
    """``$PROMTOOL``, else promtool on the PATH, else downloaded into ``cache``; never skipped."""
    configured = os.environ.get("PROMTOOL") or shutil.which("promtool")
    try:
        binary = Path(configured) if configured else _download_promtool(cache)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"promtool is required and could not be obtained: {exc}")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"promtool at {binary} is not executable")
    return str(binary)


def samples(text: str) -> dict[Key, float]:
    """Every sample of a scrape by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(parsed: dict[Key, float], name: str, **labels: str) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


def label_values(parsed: dict[Key, float], name: str, label: str) -> set[str]:
    return {dict(labels)[label] for sample, labels in parsed if sample == name}
