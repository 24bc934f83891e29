"""Start a worker: the orchestrator (``--orchestrator``) and/or executors (``--task-type``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from datetime import timedelta

from temporalio.worker import PollerBehaviorAutoscaling, UnsandboxedWorkflowRunner, Worker

import data_dir
from activities.attempt import AttemptTracker
from activities.environment import ExecutionContext
from activities.http import HttpExecutor
from activities.python import PythonExecutor
from activities.reconciler import Reconciler
from activities.run_recorder import RunRecorder
from activities.shell import ShellExecutor
from domain.parameters import SUPPORTED_TASK_TYPES
from logging_setup import configure_logging
from persistence.database import create_engine, create_sessionmaker, wait_for_database
from persistence.migrate import migrate
from processes.group_watchdog import GroupWatchdog
from processes.identity import IdentityRefused, task_identity
from processes.limits import become_subreaper
from processes.orphans import OrphanSweeper
from processes.spawn import wait_for_children_with_pidfds
from settings import Settings
from worker.registry import WorkerRegistration, outbound_ip
from workflows.client import connect, register_search_attributes
from workflows.executors import ExecutorActivity
from workflows.schedules import schedule_manager
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
    # Before anything connects: a worker that would run tasks as root stops here.
    run_as = (
        task_identity(settings.run_as_user, allow_root_tasks=settings.allow_root_tasks)
        if args.task_type
        else None
    )
    engine = create_engine(settings.database_url, settings.db_pool_size)
    await wait_for_database(engine, settings.connect_retry_seconds)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    # The mirror writes of a run's life are single idempotent statements.
    mirror = create_sessionmaker(engine, autocommit=True)
    client = await connect(
        settings.temporal_address, settings.temporal_namespace, settings.connect_retry_seconds
    )
    max_concurrent = args.max_concurrent or settings.worker_max_concurrent_tasks
    drain = timedelta(seconds=settings.worker_drain_seconds)
    workers: list[Worker] = []
    if args.orchestrator:
        await register_search_attributes(client)
        recorder = RunRecorder(mirror, settings, client)
        workers.append(
            Worker(
                client,
                task_queue=settings.orchestrator_queue,
                workflows=[TaskRunWorkflow],
                # The sandbox re-imported the workflow module for every run,
                # a quarter of the orchestrator's CPU per run. The workflow is
                # small and fixed; tests/test_replay.py replays real histories
                # under the sandbox, so its determinism checks still hold.
                workflow_runner=UnsandboxedWorkflowRunner(),
                activities=[
                    recorder.begin_run,
                    recorder.mark_dispatched,
                    recorder.finish_run,
                    recorder.check_dependencies,
                    recorder.notify_dependents,
                ],
                graceful_shutdown_timeout=drain,
                # A minute boundary starts every task on that cron at once; a
                # fixed five pollers (one of them for new workflows) fetched
                # those first workflow tasks one round trip at a time.
                workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
            )
        )
    worker_id = args.worker_id or default_worker_id(args.task_type)
    task_types = list(dict.fromkeys(args.task_type))
    tracker = AttemptTracker(mirror, worker_id)
    watchdog: GroupWatchdog | None = None
    http: HttpExecutor | None = None
    if task_types:
        wait_for_children_with_pidfds()
        become_subreaper()
        sweeper = OrphanSweeper(settings.kill_grace_seconds)
        watchdog = await GroupWatchdog.start(settings.kill_grace_seconds, sweeper)
        context = ExecutionContext(settings, watchdog, sweeper, run_as)
        http = HttpExecutor(context, tracker)
        executors: dict[str, ExecutorActivity] = {
            "shell": ShellExecutor(context, tracker).run_shell,
            "http": http.run_http,
            "python": PythonExecutor(context, tracker).run_python,
        }
        workers.extend(
            Worker(
                client,
                task_queue=settings.executor_queue(task_type),
                activities=[executors[task_type]],
                max_concurrent_activities=max_concurrent,
                graceful_shutdown_timeout=drain,
                identity=worker_id,
                activity_task_poller_behavior=PollerBehaviorAutoscaling(),
            )
            for task_type in task_types
        )
    registration: WorkerRegistration | None = None
    if task_types:
        registration = WorkerRegistration(
            sessions,
            worker_id=worker_id,
            task_types=task_types,
            max_concurrent_tasks=max_concurrent * len(task_types),
            ip_address=outbound_ip(settings.temporal_address.rpartition(":")[0] or "127.0.0.1"),
            in_flight=lambda: tracker.in_flight,
        )
        await registration.register()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    running = [asyncio.create_task(worker.run()) for worker in workers]
    background: list[asyncio.Task[None]] = []
    if registration is not None:
        background.append(
            asyncio.create_task(
                registration.heartbeat_forever(settings.worker_heartbeat_seconds, stop)
            )
        )
    if args.orchestrator:
        reconciler = Reconciler(
            sessions,
            client,
            schedule_manager(client, settings),
            settle_seconds=settings.reconcile_settle_seconds,
            worker_liveness_seconds=settings.worker_liveness_seconds,
            run_retention_days=settings.run_retention_days,
        )
        background.append(
            asyncio.create_task(reconciler.run_forever(settings.reconcile_interval_seconds, stop))
        )
    log.info(
        "worker %s polling %s",
        worker_id,
        ", ".join(w.task_queue for w in workers),
    )
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopped, *running], return_when=asyncio.FIRST_COMPLETED)
    log.info("worker %s shutting down", worker_id)
    stop.set()
    await asyncio.gather(*background, return_exceptions=True)
    # Stop polling and let in-flight attempts finish within the drain grace;
    # past it they are cancelled, which kills their process groups.
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    if registration is not None:
        await registration.mark_down()
    if http is not None:
        await http.close()
    if watchdog is not None:
        # After the workers' shutdown, which ended every group: nothing is left to end.
        await watchdog.close()
    for task in running:
        if task in done and task.exception():
            raise task.exception()  # type: ignore[misc]
    await engine.dispose()


def main() -> int:
    args = parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    data_dir.keep_private(settings.data_dir)
    try:
        asyncio.run(run(args, settings))
    except IdentityRefused as exc:
        log.error("refusing to start: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
