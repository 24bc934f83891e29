"""The executor side of a worker process: one Temporal worker per task type it serves.

The task types share one attempt tracker (its in-flight count feeds the
registry heartbeat), one process-group watchdog and one HTTP client; they
are made when the executors start and closed after the workers stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker

from activities.attempt import AttemptTracker
from activities.environment import ExecutionContext
from activities.http import HttpExecutor
from activities.python import PythonExecutor
from activities.secret_values import SecretResolver
from activities.shell import ShellExecutor
from persistence.secret_sealing import SecretSealer
from processes.group_watchdog import GroupWatchdog
from processes.identity import RunAs
from processes.limits import become_subreaper
from processes.orphans import OrphanSweeper
from processes.spawn import wait_for_children_with_pidfds
from settings import Settings
from worker.payload_guard import PayloadGuard
from worker.registry import WorkerRegistration, outbound_ip
from workflows.client import executor_client
from workflows.executors import ExecutorActivity


@dataclass
class ExecutorHost:
    """The executor workers of one process and what they share."""

    task_types: list[str]
    max_concurrent: int
    """Concurrent attempts per task type."""
    workers: list[Worker]
    tracker: AttemptTracker
    watchdog: GroupWatchdog
    http: HttpExecutor

    @classmethod
    async def start(
        cls,
        client: Client,
        settings: Settings,
        mirror: async_sessionmaker[AsyncSession],
        *,
        task_types: list[str],
        worker_id: str,
        max_concurrent: int,
        run_as: RunAs | None,
    ) -> ExecutorHost:
        """Start the watchdog and build a worker per task type (not yet polling).

        Task processes run as ``run_as`` (None: the worker's own user).
        """
        wait_for_children_with_pidfds()
        become_subreaper()
        sweeper = OrphanSweeper(settings.kill_grace_seconds)
        watchdog = await GroupWatchdog.start(settings.kill_grace_seconds, sweeper)
        tracker = AttemptTracker(mirror, worker_id)
        secrets = SecretResolver(mirror, SecretSealer(settings.payload_keys))
        context = ExecutionContext(settings, watchdog, sweeper, run_as, secrets)
        http = HttpExecutor(context, tracker)
        executors: dict[str, ExecutorActivity] = {
            "shell": ShellExecutor(context, tracker).run_shell,
            "http": http.run_http,
            "python": PythonExecutor(context, tracker).run_python,
        }
        # Refused (unsigned) inputs arrive marked and fail non-retryably in the guard.
        executing = executor_client(client, settings)
        workers = [
            Worker(
                executing,
                task_queue=settings.executor_queue(task_type),
                activities=[executors[task_type]],
                interceptors=[PayloadGuard()],
                max_concurrent_activities=max_concurrent,
                graceful_shutdown_timeout=timedelta(seconds=settings.worker_drain_seconds),
                identity=worker_id,
                activity_task_poller_behavior=PollerBehaviorAutoscaling(),
            )
            for task_type in task_types
        ]
        return cls(
            task_types=task_types,
            max_concurrent=max_concurrent,
            workers=workers,
            tracker=tracker,
            watchdog=watchdog,
            http=http,
        )

    def registration(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> WorkerRegistration:
        """This process's row in the worker registry: its capacity and in-flight count."""
        return WorkerRegistration(
            sessions,
            worker_id=self.tracker.worker_id,
            task_types=self.task_types,
            max_concurrent_tasks=self.max_concurrent * len(self.task_types),
            ip_address=outbound_ip(settings.temporal_address.rpartition(":")[0] or "127.0.0.1"),
            in_flight=lambda: self.tracker.in_flight,
        )

    async def close(self) -> None:
        """Release what the executors shared; call after their workers have shut down."""
        await self.http.close()
        # After the workers' shutdown, which ended every group: nothing is left to end.
        await self.watchdog.close()
