"""A load generator for GET endpoints: ``wrk`` when installed, else an async httpx client.

Paths may contain ``{id}``, replaced per request by a random task id in ``1..ids``.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import percentile

_MARK = "BENCH_JSON "

_WRK_SCRIPT = """
local template = %(template)s
local ids = %(ids)d
wrk.headers["Authorization"] = %(authorization)s
math.randomseed(%(seed)d)
request = function()
  local path = string.gsub(template, "{id}", tostring(math.random(1, ids)))
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%(mark)s{\\"requests\\": %%d, \\"duration_us\\": %%d, \\"status_errors\\": %%d,"
    .. " \\"socket_errors\\": %%d, \\"p50_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    generator: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    base_url: str, path: str, token: str, ids: int, seconds: float, connections: int
) -> LoadResult:
    script = _WRK_SCRIPT % {
        "template": _lua_string(path),
        "ids": max(ids, 1),
        "authorization": _lua_string(f"Bearer {token}" if token else ""),
        "seed": random.randrange(1 << 30),
        "mark": _MARK,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        completed = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                handle.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    finally:
        Path(handle.name).unlink(missing_ok=True)
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith(_MARK))
    data = json.loads(line[len(_MARK) :])
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["status_errors"] + data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        generator="wrk",
    )


async def _run_httpx(
    base_url: str, path: str, token: str, ids: int, seconds: float, connections: int
) -> LoadResult:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as http:
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                url = path.replace("{id}", str(random.randint(1, max(ids, 1))))
                began = time.perf_counter()
                response = await http.get(url, timeout=30)
                latencies.append(time.perf_counter() - began)
                errors += response.status_code >= 400

        began = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        errors=errors,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        generator="httpx",
    )


def generate_load(
    base_url: str,
    path: str,
    *,
    token: str = "",
    ids: int = 1,
    seconds: float = 10.0,
    connections: int = 8,
    use_wrk: bool | None = None,
) -> LoadResult:
    """GET ``path`` as fast as ``connections`` keep-alive connections allow, for ``seconds``."""
    if use_wrk is None:
        use_wrk = shutil.which("wrk") is not None
    if use_wrk:
        return run_wrk(base_url, path, token, ids, seconds, connections)
    return asyncio.run(_run_httpx(base_url, path, token, ids, seconds, connections))
