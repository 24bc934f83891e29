"""Optional py-spy sampling of the stack's processes while a benchmark measures.

``--profile DIR`` on a benchmark records each watched process with
``py-spy record --format raw`` (collapsed stacks) into ``DIR/<name>.txt`` and
prints where the samples went. py-spy is not a dependency of the project:
``pip install py-spy`` first (it needs ptrace rights, as root has).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


@contextlib.contextmanager
def profiled(pids: Mapping[str, int], out_dir: Path | None, rate: int = 100) -> Iterator[None]:
    """Sample ``pids`` while the body runs (nothing when ``out_dir`` is None)."""
    if out_dir is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = _py_spy()
    recorders = {
        name: subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate),
                "--nonblocking",
                "--output",
                str(out_dir / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    }
    try:
        yield
    finally:
        for recorder in recorders.values():
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for recorder in recorders.values():
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
    for name in pids:
        path = out_dir / f"{name}.txt"
        if path.exists():
            print(summarize(name, path), flush=True)


_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)".
    function, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{_PROJECT_ROOT}/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{function} ({file})"


def summarize(name: str, path: Path, top: int = 12) -> str:
    """The functions with most samples on top of the stack (self) and anywhere in it (total)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        samples += count
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"-- profile {name}: {samples} samples ({path})", "   self:"]
    lines += [f"   {100 * n / samples:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("   total (inclusive):")
    lines += [f"   {100 * n / samples:5.1f}%  {frame}" for frame, n in total.most_common(top * 2)]
    return "\n".join(lines) if samples else f"-- profile {name}: no samples"
