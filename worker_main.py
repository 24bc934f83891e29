"""Start a worker: the orchestrator (``--orchestrator``) and/or executors (``--task-type``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
from datetime import timedelta

from temporalio.worker import Worker

from activities.run_recorder import RunRecorder
from activities.running import RunningReporter
from activities.shell import ShellExecutor
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.migrate import migrate
from settings import SUPPORTED_TASK_TYPES, Settings
from workflows.client import connect, register_search_attributes
from workflows.task_run import TaskRunWorkflow

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


async def run(args: argparse.Namespace, settings: Settings) -> None:
    engine = create_engine(settings.database_url, settings.db_pool_size)
    await wait_for_database(engine, settings.connect_retry_seconds)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, settings.connect_retry_seconds
    )
    max_concurrent = args.max_concurrent or settings.worker_max_concurrent_tasks
    drain = timedelta(seconds=settings.worker_drain_seconds)
    workers: list[Worker] = []
    if args.orchestrator:
        await register_search_attributes(client)
        recorder = RunRecorder(sessions, settings, client)
        workers.append(
            Worker(
                client,
                task_queue=settings.orchestrator_queue,
                workflows=[TaskRunWorkflow],
                activities=[
                    recorder.begin_run,
                    recorder.mark_dispatched,
                    recorder.finish_run,
                    recorder.check_dependencies,
                    recorder.notify_dependents,
                ],
                graceful_shutdown_timeout=drain,
            )
        )
    worker_id = args.worker_id or default_worker_id(args.task_type)
    reporter = RunningReporter(sessions, worker_id)
    for task_type in dict.fromkeys(args.task_type):
        if task_type == "shell":
            executor = ShellExecutor(settings, reporter)
            workers.append(
                Worker(
                    client,
                    task_queue=settings.executor_queue(task_type),
                    activities=[executor.run_shell],
                    max_concurrent_activities=max_concurrent,
                    graceful_shutdown_timeout=drain,
                    identity=worker_id,
                )
            )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    running = [asyncio.create_task(worker.run()) for worker in workers]
    log.info(
        "worker %s polling %s",
        worker_id,
        ", ".join(w.task_queue for w in workers),
    )
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *running], return_when=asyncio.FIRST_COMPLETED)
    log.info("worker %s shutting down", worker_id)
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    for task in running:
        if task in done and task.exception():
            raise task.exception()  # type: ignore[misc]
    await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args()
    settings = Settings.from_env()
    asyncio.run(run(args, settings))


if __name__ == "__main__":
    main()
