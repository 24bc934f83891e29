"""Many open waits on one API process: its memory and CPU while they hold, and hang-ups.

    .venv/bin/python -m bench.run_waits --waits 1000

Starts the dev server and the API only (no worker: every run stays open),
triggers ``--waits`` runs, then opens one connection per run sending
``GET /api/task-runs/{id}?wait=300`` and holds them all for ``--hold``
seconds. It reports the API's RSS before and while they hold, the CPU the
API and the dev server use while the waits are idle (no run moves), and how
long after every client hangs up the API's ``scheduler_run_waits_open`` is
back to 0, then the API's RSS after.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time

from bench.report import Report, cpu_seconds, rss_mib
from bench.stack import ApiClient, add_stack_arguments, api_client, bench_stack
from tests.conftest import Stack

WAIT_SECONDS = 300


async def open_waits(api: ApiClient) -> int:
    text = (await api.http.get("/metrics")).text
    found = re.search(r"^scheduler_run_waits_open (\S+)$", text, re.MULTILINE)
    if found is None:
        raise RuntimeError("/metrics has no scheduler_run_waits_open")
    return int(float(found.group(1)))


async def until_open_waits(api: ApiClient, expected: int, within: float) -> float:
    """Seconds until the gauge shows ``expected`` (checked every 20 ms)."""
    began = time.monotonic()
    while (count := await open_waits(api)) != expected:
        if time.monotonic() - began > within:
            raise RuntimeError(f"{count} waits open after {within}s, expected {expected}")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def hold(host: str, port: int, token: str, run_id: int) -> asyncio.StreamWriter:
    """A connection whose request waits on ``run_id``; the caller closes it."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /api/task-runs/{run_id}?wait={WAIT_SECONDS} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    await writer.drain()
    return writer


async def measure(stack: Stack, args: argparse.Namespace, report: Report) -> None:
    api_pid, server_pid = stack.processes["api"].pid, stack.processes["temporal"].pid
    host, port = "127.0.0.1", int(stack.base_url.rsplit(":", 1)[1])
    async with api_client(stack.base_url, connections=20) as api:
        task = await api.create_task()
        slots = asyncio.Semaphore(10)

        async def trigger() -> int:
            async with slots:
                return await api.trigger(task["id"])

        run_ids = await asyncio.gather(*(trigger() for _ in range(args.waits)))
        await asyncio.sleep(2)  # the triggers' own garbage settles
        rss_before = rss_mib(api_pid)
        writers = await asyncio.gather(*(hold(host, port, api.token, r) for r in run_ids))
        opened = await until_open_waits(api, args.waits, within=120)
        await asyncio.sleep(2)
        rss_holding = rss_mib(api_pid)
        cpu_api, cpu_server = cpu_seconds(api_pid), cpu_seconds(server_pid)
        began = time.monotonic()
        await asyncio.sleep(args.hold)
        idle = time.monotonic() - began
        used_api = cpu_seconds(api_pid) - cpu_api
        used_server = cpu_seconds(server_pid) - cpu_server
        if await open_waits(api) != args.waits:
            raise RuntimeError("a wait ended while it should have held")
        for writer in writers:
            writer.close()
        freed = await until_open_waits(api, 0, within=60)
        await asyncio.sleep(2)
        rss_after = rss_mib(api_pid)

    n = args.waits
    report.add("waits opened (all seen by the API)", opened, "s")
    report.add("API RSS before the waits", rss_before, "MiB")
    report.add(f"API RSS while {n} waits hold", rss_holding, "MiB")
    if rss_before is not None and rss_holding is not None:
        report.add("API RSS per wait", 1024 * (rss_holding - rss_before) / n, "KiB")
    report.add(f"API CPU while {n} waits idle", 100 * used_api / idle, "% core")
    report.add(f"dev server CPU while {n} waits idle", 100 * used_server / idle, "% core")
    report.add(f"all {n} clients hung up -> 0 waits open", freed, "s")
    report.add("API RSS after the hang-ups", rss_after, "MiB")
    report.note(f"idle window {idle:.0f} s; each wait asks for wait={WAIT_SECONDS}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, default=1000, help="open waits (default 1000)")
    parser.add_argument(
        "--hold", type=float, default=60.0, help="seconds the idle CPU is measured (default 60)"
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    if args.hold > WAIT_SECONDS - 60:
        parser.error(f"--hold must leave the waits' {WAIT_SECONDS} s room to be set up")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report("run_waits", {"waits": args.waits, "hold": args.hold, "backend": args.backend})
    with bench_stack(args, workers=False) as stack:
        asyncio.run(measure(stack, args, report))
    report.finish(args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
