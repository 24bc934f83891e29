"""Start a worker: the orchestrator (``--orchestrator``) and/or executors (``--task-type``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import uvloop
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.worker import Worker

import data_dir
from activities.environment import task_limits
from domain.task_types import SUPPORTED_TASK_TYPES
from logging_setup import configure_logging
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.migrate import migrate
from processes.identity import IdentityRefused, task_identity
from processes.limits import LimitsUnavailable, forbid_new_privileges
from settings import Settings
from worker.executors import ExecutorHost
from worker.orchestrator import (
    fire_watch,
    notifier,
    orchestrator_worker,
    outbox_relay,
    reconciler,
)
from worker.registry import WorkerRegistration
from workflows.client import connect

log = logging.getLogger("worker")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orchestrator", action="store_true", help="run TaskRunWorkflow")
    parser.add_argument(
        "--task-type",
        action="append",
        default=[],
        choices=SUPPORTED_TASK_TYPES,
        help="run this task type's executor (repeatable)",
    )
    parser.add_argument("--worker-id", help="identity recorded on runs (default: host-types-pid)")
    parser.add_argument("--max-concurrent", type=int, help="concurrent activities per task type")
    args = parser.parse_args(argv)
    if not args.orchestrator and not args.task_type:
        parser.error("give --orchestrator and/or at least one --task-type")
    return args


def default_worker_id(task_types: list[str]) -> str:
    return f"{socket.gethostname()}-{'+'.join(task_types) or 'orchestrator'}-{os.getpid()}"


async def open_database(settings: Settings) -> AsyncEngine:
    """The engine, once the database answers and the schema is current."""
    engine = create_engine(settings.database_url, settings.db_pool_size)
    await wait_for_database(engine, settings.connect_retry_seconds)
    await migrate(engine)
    return engine


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT: the process drains and exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(
    worker_id: str,
    workers: list[Worker],
    background: list[Coroutine[Any, Any, None]],
    stop: asyncio.Event,
) -> BaseException | None:
    """Poll with every worker and run the background jobs until ``stop`` is set or a
    worker ends; then stop the jobs and drain the workers.

    Returns the error of a worker that ended on its own (None on a clean stop).
    """
    running = [asyncio.create_task(worker.run()) for worker in workers]
    jobs = [asyncio.create_task(job) for job in background]
    log.info("worker %s polling %s", worker_id, ", ".join(w.task_queue for w in workers))
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *running], return_when=asyncio.FIRST_COMPLETED)
    log.info("worker %s shutting down", worker_id)
    stop.set()
    await asyncio.gather(*jobs, return_exceptions=True)
    # Stop polling and let in-flight attempts finish within the drain grace;
    # past it they are cancelled, which kills their process groups.
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    crashed = [task.exception() for task in running if task in done]
    return next((error for error in crashed if error is not None), None)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    """Run the workers ``args`` ask for until SIGTERM or SIGINT, then drain and exit."""
    # Before anything connects: a worker that would run tasks as root stops here.
    run_as = (
        task_identity(settings.run_as_user, allow_root_tasks=settings.allow_root_tasks)
        if args.task_type
        else None
    )
    if args.task_type:
        task_limits(settings).command_prefix()  # LimitsUnavailable: a limit it cannot apply
    engine = await open_database(settings)
    sessions = create_sessionmaker(engine)
    # The mirror writes of a run's life are single idempotent statements.
    mirror = create_sessionmaker(engine, autocommit=True)
    client = await connect(settings)
    task_types = list(dict.fromkeys(args.task_type))
    worker_id = args.worker_id or default_worker_id(args.task_type)
    max_concurrent = args.max_concurrent or settings.worker_max_concurrent_tasks
    stop = stop_on_signals()

    workers: list[Worker] = []
    background: list[Coroutine[Any, Any, None]] = []
    notifications = notifier(sessions, client, settings) if args.orchestrator else None
    if notifications is not None:
        workers.append(await orchestrator_worker(client, settings, mirror, notifications))
        background.append(
            reconciler(sessions, client, settings).run_forever(
                settings.reconcile_interval_seconds, stop
            )
        )
        background.append(
            outbox_relay(sessions, client, settings).run_forever(
                settings.outbox_relay_interval_seconds, stop
            )
        )
        background.append(
            fire_watch(sessions, client, settings).run_forever(
                settings.fire_watch_interval_seconds, stop
            )
        )
    host: ExecutorHost | None = None
    registration: WorkerRegistration | None = None
    if task_types:
        host = await ExecutorHost.start(
            client,
            settings,
            mirror,
            task_types=task_types,
            worker_id=worker_id,
            max_concurrent=max_concurrent,
            run_as=run_as,
        )
        workers.extend(host.workers)
        registration = host.registration(sessions, settings)
        await registration.register()
        background.append(registration.heartbeat_forever(settings.worker_heartbeat_seconds, stop))

    crashed = await serve(worker_id, workers, background, stop)
    if registration is not None:
        await registration.mark_down()
    if host is not None:
        await host.close()
    if notifications is not None:
        await notifications.close()
    if crashed is not None:
        raise crashed
    await engine.dispose()


def main() -> int:
    args = parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    if args.task_type:
        # Before any thread starts (the attribute is per thread, inherited by
        # later threads and children): every task process then has it.
        forbid_new_privileges()
    try:
        if args.task_type:
            # Task processes are spawned and reaped through the standard loop's
            # subprocess support and child watcher (processes.spawn).
            asyncio.run(run(args, settings))
        else:
            # Nothing spawned: uvloop's loop costs the orchestrator less per event.
            uvloop.run(run(args, settings))
    except (IdentityRefused, LimitsUnavailable) as exc:
        log.error("refusing to start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
