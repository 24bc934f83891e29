"""Figures of one benchmark run: the machine, percentiles, an aligned table and a JSON file."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.timestamps import rfc3339

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _status_mib(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def peak_rss_mib(pid: int) -> float | None:
    """``VmHWM`` (peak resident set) of a live process, in MiB."""
    return _status_mib(pid, "VmHWM:")


def rss_mib(pid: int) -> float | None:
    """``VmRSS`` (resident set now) of a live process, in MiB."""
    return _status_mib(pid, "VmRSS:")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # Fields 14 and 15 of stat(5), counted after the ")" that ends the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_backends(database: str) -> list[int]:
    """Pids of the Postgres server processes serving connections to ``database``.

    Postgres titles each backend ``postgres: [<cluster>:] <user> <database>
    <client> ...``, which is all it takes to find them without a connection of
    our own.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        if not title or title[0] != b"postgres:":
            continue
        words = title[2:] if len(title) > 1 and title[1].endswith(b":") else title[1:]
        if len(words) >= 2 and words[1] == database.encode():
            found.append(int(entry.name))
    return found


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    """Collects the figures of one run; ``finish`` prints them and writes the JSON."""

    benchmark: str
    parameters: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = field(default_factory=load_average)
    started: float = field(default_factory=time.monotonic)

    def add(
        self,
        name: str,
        value: float | None,
        unit: str = "",
        *,
        target: str = "",
        met: bool | None = None,
    ) -> None:
        self.figures.append(Figure(name, value, unit, target, met))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def render(self, load_after: tuple[float, float, float]) -> str:
        params = " ".join(f"{key}={value}" for key, value in self.parameters.items())
        info = machine()
        lines = [
            f"== {self.benchmark} ({params})",
            f"   machine: {info['nproc']} cpus, {info['cpu_model']}, {info['memory_gib']} GiB;"
            f" load average before {_load(self.load_before)}, after {_load(load_after)}",
        ]
        width = max((len(figure.name) for figure in self.figures), default=10)
        for figure in self.figures:
            verdict = "" if figure.met is None else ("MET" if figure.met else "MISSED")
            target = f"target {figure.target}" if figure.target else ""
            lines.append(
                f"   {figure.name:<{width}}  {_number(figure.value):>12} {figure.unit:<8}"
                f" {target:<22} {verdict}".rstrip()
            )
        lines.extend(f"   note: {text}" for text in self.notes)
        lines.append(f"   (took {time.monotonic() - self.started:.0f} s)")
        return "\n".join(lines)

    def finish(self, results_dir: Path = RESULTS_DIR) -> Path:
        """Print the table and write ``<results_dir>/<benchmark>.json``; returns its path."""
        load_after = load_average()
        print(self.render(load_after), flush=True)
        results_dir.mkdir(parents=True, exist_ok=True)
        path = results_dir / f"{self.benchmark}.json"
        document = {
            "benchmark": self.benchmark,
            "measured_at": rfc3339(datetime.now(UTC), "auto"),
            "parameters": self.parameters,
            "machine": machine(),
            "load_average_before": self.load_before,
            "load_average_after": load_after,
            "figures": [asdict(figure) for figure in self.figures],
            "notes": self.notes,
            "details": self.details,
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        return path


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value)}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
