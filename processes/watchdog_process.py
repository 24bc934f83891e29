"""The group watchdog's own process: read the worker's pipe, end its groups once it closes.

``python -m processes.watchdog_process GRACE_SECONDS`` (started by
``processes.group_watchdog.GroupWatchdog``). The process idles for the whole
life of its worker and acts once, so it loads nothing but the standard
library until then: the spawn module and ``asyncio`` are imported only when
there are groups to end (this keeps it at about half the memory of a process
that imports them at start).
"""

from __future__ import annotations

import signal
import sys


def _end_groups(groups: set[int], grace_seconds: float) -> None:
    import asyncio

    from processes.spawn import terminate_group

    async def end_all() -> None:
        await asyncio.gather(*(terminate_group(pgid, grace_seconds) for pgid in groups))

    asyncio.run(end_all())


def main(argv: list[str]) -> int:
    grace_seconds = float(argv[0]) if argv else 5.0
    # The worker's Ctrl-C or SIGTERM is for the worker, which ends its groups itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin:
        sign, pgid = line[:1], line[1:].strip()
        if not pgid.isdigit():
            continue
        if sign == "+":
            groups.add(int(pgid))
        elif sign == "-":
            groups.discard(int(pgid))
    if groups:
        print(f"group watchdog: worker gone; ending process groups {sorted(groups)}", flush=True)
        _end_groups(groups, grace_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
