"""The soak: scheduled tasks with dependencies and a trigger stream, while processes die.

Tasks on ``* * * * *`` (chains of dependencies) and a stream of manual
triggers every ``--trigger-interval`` seconds run on a Postgres stack whose
database connections go through a TCP proxy. In turn a shell worker, the
orchestrator, the Temporal dev server and the API are killed (and restarted
after their window) and the Postgres connection is cut. After the load stops
and every run has ended it checks and prints:

- fires with exactly one run, missed fires, fires with more than one run;
- triggers answered 201 without exactly one terminal run (lost triggers);
- run rows without a workflow, workflows without a row, ``Failed`` runs
  whose reason is a workflow Temporal does not know (phantoms);
- runs whose command executed more than once, counted from what the commands
  wrote: each execution appends a fresh token to its task's file and prints
  it, so an execution whose token is no run's ``result`` ran once too often;
- runs whose status in the mirror differs from their workflow's in Temporal;
- trigger availability (share of triggers answered 201) per fault window.

``python -m bench.soak --minutes 8`` (README in ``bench/README.md``);
``tests/faults/test_soak.py`` runs a short version in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from temporalio.client import WorkflowExecutionStatus

import devstack
from bench.report import RESULTS_DIR
from bench.stack import TERMINAL, UNLIMITED, ApiClient, api_client, unique
from tests.conftest import Stack, running_stack
from tests.tcp_proxy import TcpProxy, tcp_proxy

# Faults in the order the soak injects them; each is undone at the end of its window.
FAULTS = ("worker", "orchestrator", "temporal", "api", "postgres")

# Statuses a closed workflow can have for each final mirror status.
AGREEING = {
    "Completed": {WorkflowExecutionStatus.COMPLETED},
    "Failed": {
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.TERMINATED,
        WorkflowExecutionStatus.CANCELED,
    },
    "Timeout": {WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TIMED_OUT},
}

SOAK_ENV = {
    "SCHEDULER_RATE_LIMIT_AUTH": UNLIMITED,
    "SCHEDULER_RATE_LIMIT_TASKS": UNLIMITED,
    "SCHEDULER_RATE_LIMIT_SYSTEM": UNLIMITED,
    "SCHEDULER_WORKER_MAX_CONCURRENT": "50",
}

# The benchmark keeps the test stack's short intervals (faults are noticed in
# seconds) but the deployed heartbeat timeout: the test stack's 5 s times
# attempts out on a starved machine (load 25 on 2 cores in the second soak of
# bench/README.md), which measures the machine, not the scheduler.
DEPLOYED_HEARTBEAT = {"SCHEDULER_HEARTBEAT_TIMEOUT_SECONDS": "10"}


@dataclass(frozen=True)
class SoakPlan:
    """How long the soak runs, its load, and when each fault starts and how long it lasts."""

    duration_seconds: float
    scheduled_tasks: int
    trigger_interval_seconds: float
    windows: tuple[tuple[str, float, float], ...]
    """``(fault, start, length)`` in seconds from the soak's start."""
    chain_length: int = 5
    drain_seconds: float = 180.0
    fire_margin_seconds: float | None = None
    """When set, the load starts only once the next minute boundary (the tasks' fire) is
    at most ``duration - margin`` seconds away, so a short soak always holds a fire."""

    @classmethod
    def spread(
        cls, duration_seconds: float, scheduled_tasks: int, trigger_interval_seconds: float
    ) -> SoakPlan:
        """The five faults spread over the soak: the first after a sixth of it, each one
        held for 10-20 s (a 20 s Temporal outage at full length), with recovery between."""
        slot = duration_seconds / (len(FAULTS) + 2)
        hold = max(5.0, min(20.0, slot * 0.4))
        lengths = {"worker": hold * 0.75, "orchestrator": hold * 0.75, "temporal": hold}
        windows = tuple(
            (fault, slot * (index + 1), lengths.get(fault, hold * 0.5 if fault == "api" else hold))
            for index, fault in enumerate(FAULTS)
        )
        return cls(duration_seconds, scheduled_tasks, trigger_interval_seconds, windows)


@dataclass
class Trigger:
    sent_at: float
    """Seconds from the soak's start."""
    status: int | None
    """HTTP status, None when no answer came (connection refused, timed out)."""
    run_id: int | None = None


@dataclass
class SoakReport:
    backend: str
    duration_seconds: float
    scheduled_tasks: int
    fires_due: int = 0
    fires_with_one_run: int = 0
    fires_missed: int = 0
    fires_duplicated: int = 0
    fires_skipped_overlap: int = 0
    triggers_sent: int = 0
    triggers_accepted: int = 0
    triggers_lost: int = 0
    """Answered 201 without exactly one terminal run."""
    triggers_not_completed: int = 0
    runs_without_answer: int = 0
    """Manual runs no 201 named (the API died after committing them): they ran anyway."""
    runs: int = 0
    runs_open: int = 0
    rows_without_workflow: int = 0
    workflows_without_row: int = 0
    phantom_runs: int = 0
    """Failed because Temporal did not know the workflow."""
    executions_beyond_runs: int = 0
    """Command executions whose token no run reported: a command that ran more than once."""
    executions_beyond_runs_by_window: dict[str, int] = field(default_factory=dict)
    """The same, by the fault window in which the extra execution wrote its token."""
    status_mismatches: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    availability: dict[str, float] = field(default_factory=dict)
    """Share of triggers answered 201, per fault window (and outside them: ``steady``)."""
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    """Each fault as held: ``(fault, start, length)`` in seconds, restart included."""
    refused: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per window, the answers other than 201 (``none``: no answer)."""
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Nothing lost, doubled, phantom or disagreeing (availability is judged apart)."""
        return not (
            self.fires_missed
            or self.fires_duplicated
            or self.triggers_lost
            or self.rows_without_workflow
            or self.workflows_without_row
            or self.phantom_runs
            or self.executions_beyond_recording
            or self.status_mismatches
            or self.runs_open
        )

    @property
    def executions_beyond_recording(self) -> int:
        """Extra executions the product promises not to make: all but those of the worker
        kill, where a command that finished before its outcome was recorded runs again
        (the at-least-once case the README names)."""
        at_least_once = self.executions_beyond_runs_by_window.get("worker", 0)
        return self.executions_beyond_runs - at_least_once

    def lines(self) -> list[str]:
        avail = ", ".join(f"{name} {share:.3f}" for name, share in self.availability.items())
        return [
            f"soak on {self.backend}: {self.duration_seconds:.0f} s, "
            f"{self.scheduled_tasks} tasks on * * * * *",
            f"fires due {self.fires_due}: exactly one run {self.fires_with_one_run}, "
            f"missed {self.fires_missed}, duplicated {self.fires_duplicated}, "
            f"skipped (overlap) {self.fires_skipped_overlap}",
            f"triggers sent {self.triggers_sent}, answered 201 {self.triggers_accepted}, "
            f"201 without exactly one terminal run {self.triggers_lost}, "
            f"201 not Completed {self.triggers_not_completed}, "
            f"manual runs no 201 named {self.runs_without_answer}",
            f"runs {self.runs} (open after the drain {self.runs_open}): rows without workflow "
            f"{self.rows_without_workflow}, workflows without row {self.workflows_without_row}, "
            f"phantom Failed {self.phantom_runs}",
            f"command executions beyond their runs {self.executions_beyond_runs} "
            f"{self.executions_beyond_runs_by_window}, "
            f"status mismatches mirror/Temporal {self.status_mismatches}",
            f"fault windows (start, length incl. restart): {self.windows}",
            f"trigger availability: {avail}",
            f"refused answers per window: {self.refused}",
            f"failed runs by reason: {self.failed_reasons}",
        ]


def _command(token_file: Path) -> str:
    # The token is written after the work, so an execution killed mid-command
    # (at-least-once by design) is not counted; one that finished is.
    return (
        "sleep 0.3; t=$(od -An -N8 -tx8 /dev/urandom | tr -d ' '); "
        f'echo "$t $(date +%s.%N)" >> {token_file}; echo "$t"'
    )


class Faults:
    """Kills and restores the stack's processes and its database connection."""

    def __init__(self, stack: Stack, proxy: TcpProxy) -> None:
        self._stack = stack
        self._proxy = proxy

    def start(self, fault: str) -> None:
        processes = self._stack.processes
        if fault == "worker":
            processes["shell"].kill()
            processes["shell"].wait()
        elif fault == "orchestrator":
            processes["orchestrator"].kill()
            processes["orchestrator"].wait()
        elif fault == "temporal":
            # Stopped, not SIGKILLed: the dev server keeps its SQLite file only
            # when it shuts down (a production cluster keeps its state either way).
            devstack.stop(processes["temporal"], within_seconds=20)
        elif fault == "api":
            processes["api"].kill()
            processes["api"].wait()
        elif fault == "postgres":
            self._proxy.cut()

    def end(self, fault: str) -> None:
        stack = self._stack
        if fault == "worker":
            stack.start("shell", "worker_main.py", "--task-type", "shell")
        elif fault == "orchestrator":
            stack.start("orchestrator", "worker_main.py", "--orchestrator")
        elif fault == "temporal":
            stack.start_temporal()
        elif fault == "api":
            stack.start("api", "api_main.py")
            devstack.wait_for_http(f"{stack.base_url}/health", 60, stack.processes["api"])
        elif fault == "postgres":
            self._proxy.restore()


@contextmanager
def soak_stack(
    postgres_url: str = "", env: Mapping[str, str] | None = None
) -> Iterator[tuple[Stack, TcpProxy]]:
    """A Postgres stack whose processes reach their database through a proxy the soak cuts."""
    upstream = make_url(
        postgres_url or os.environ.get("SCHEDULER_TEST_DATABASE_URL", "").strip() or _DEFAULT_PG
    )
    with (
        tcp_proxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy,
        running_stack(
            "postgres",
            database_port=proxy.port,
            postgres_url=postgres_url,
            env_overrides={**SOAK_ENV, **(env or {})},
        ) as stack,
    ):
        yield stack, proxy


_DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
_AFTERMATH_SECONDS = 15.0


class Soak:
    def __init__(self, stack: Stack, proxy: TcpProxy, plan: SoakPlan) -> None:
        self.stack = stack
        self.plan = plan
        self.faults = Faults(stack, proxy)
        self.triggers: list[Trigger] = []
        self.files: dict[int, Path] = {}
        self.started = 0.0
        self.log: list[str] = []
        self.held: list[tuple[str, float, float]] = []
        """Each fault as it happened: from its start to its process answering again."""

    def _say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {message}"
        self.log.append(line)
        print(line, flush=True)

    async def run(self) -> SoakReport:
        async with api_client(self.stack.base_url) as api:
            scheduled, target = await self._create_tasks(api)
            await self._wait_for_a_fire_inside()
            began_at = datetime.now(UTC)
            self.started = time.monotonic()
            load = asyncio.create_task(self._trigger_stream(api.token, target))
            await self._inject_faults()
            await load
            ended_at = datetime.now(UTC)
            self._say("load over; pausing the scheduled tasks and draining")
            await api.call("POST", "/api/tasks/pause", json={"ids": scheduled})
            await self._drain(api, [*scheduled, target])
            return await self._check(api, scheduled, target, began_at, ended_at)

    async def _wait_for_a_fire_inside(self) -> None:
        margin = self.plan.fire_margin_seconds
        if margin is None:
            return
        lead = max(0.0, self.plan.duration_seconds - margin)
        to_boundary = 60 - time.time() % 60
        if to_boundary > lead:
            self._say(f"waiting {to_boundary - lead:.0f} s so that a fire falls inside the load")
            await asyncio.sleep(to_boundary - lead)

    async def _create_tasks(self, api: ApiClient) -> tuple[list[int], int]:
        scheduled: list[int] = []
        for index in range(self.plan.scheduled_tasks):
            dependencies = [scheduled[-1]] if index % self.plan.chain_length else []
            token_file = self.stack.task_dir / f"soak-{index}.tokens"
            task = await api.create_task(
                name=unique(f"soak-{index}"),
                schedule="* * * * *",
                parameters={"command": _command(token_file)},
                dependencies=dependencies,
                timeout_seconds=120,
                dependency_timeout_seconds=50,
            )
            scheduled.append(task["id"])
            self.files[task["id"]] = token_file
        token_file = self.stack.task_dir / "soak-triggered.tokens"
        target = await api.create_task(
            name=unique("soak-triggered"), parameters={"command": _command(token_file)}
        )
        self.files[target["id"]] = token_file
        return scheduled, target["id"]

    async def _trigger_stream(self, token: str, task_id: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        interval = self.plan.trigger_interval_seconds
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(base_url=self.stack.base_url, timeout=15.0) as http:

            async def one(sent_at: float) -> None:
                trigger = Trigger(sent_at, None)
                self.triggers.append(trigger)
                try:
                    response = await http.post(f"/api/tasks/{task_id}/trigger", headers=headers)
                except httpx.HTTPError:
                    return
                trigger.status = response.status_code
                if response.status_code == 201:
                    trigger.run_id = response.json()["data"]["task_run_id"]

            tick = 0
            while (now := time.monotonic() - self.started) < self.plan.duration_seconds:
                job = asyncio.create_task(one(now))
                pending.add(job)
                job.add_done_callback(pending.discard)
                tick += 1
                await asyncio.sleep(max(0.0, tick * interval - (time.monotonic() - self.started)))
            await asyncio.gather(*pending)

    async def _inject_faults(self) -> None:
        for fault, start, length in self.plan.windows:
            await asyncio.sleep(max(0.0, start - (time.monotonic() - self.started)))
            self._say(f"{fault}: down for {length:.0f} s")
            began = time.monotonic() - self.started
            await asyncio.to_thread(self.faults.start, fault)
            await asyncio.sleep(max(0.0, start + length - (time.monotonic() - self.started)))
            await asyncio.to_thread(self.faults.end, fault)
            self.held.append((fault, began, time.monotonic() - self.started - began))
            self._say(f"{fault}: back")

    async def _drain(self, api: ApiClient, task_ids: list[int]) -> None:
        deadline = time.monotonic() + self.plan.drain_seconds
        while time.monotonic() < deadline:
            open_runs = 0
            for task_id in task_ids:
                for status in ("Pending", "Dispatched", "Running"):
                    page = await api.runs_page(task_id, 1, 1, status=status)
                    open_runs += page["total"]
            if open_runs == 0:
                return
            await asyncio.sleep(2)
        self._say("drain: runs still open at its end")

    async def _check(
        self,
        api: ApiClient,
        scheduled: list[int],
        target: int,
        began_at: datetime,
        ended_at: datetime,
    ) -> SoakReport:
        report = SoakReport("postgres", self.plan.duration_seconds, self.plan.scheduled_tasks)
        examples: dict[str, list[str]] = {}

        def example(kind: str, text: str) -> None:
            examples.setdefault(kind, [])
            if len(examples[kind]) < 5:
                examples[kind].append(text)

        rows: dict[int, list[dict[str, Any]]] = {
            task_id: await api.all_runs(task_id) for task_id in [*scheduled, target]
        }
        # Fires: the ledger over the load's span (the first fire after its start to the
        # last before its end), and the rows each fire time made.
        window_from = (began_at + timedelta(seconds=1)).isoformat()
        window_to = (ended_at - timedelta(seconds=1)).isoformat()
        for task_id in scheduled:
            ledger = await api.call(
                "GET", f"/api/tasks/{task_id}/fires", params={"from": window_from, "to": window_to}
            )
            per_time = Counter(
                run["scheduled_at"] for run in rows[task_id] if run["trigger"] == "schedule"
            )
            for fire in ledger["fires"]:
                if fire["outcome"] == "upcoming":
                    continue
                report.fires_due += 1
                if fire["outcome"] == "missed":
                    report.fires_missed += 1
                    example("missed", f"task {task_id} {fire['at']}")
                elif fire["outcome"] == "skipped_overlap":
                    report.fires_skipped_overlap += 1
                elif fire["outcome"] == "ran" and per_time[fire["at"]] == 1:
                    report.fires_with_one_run += 1
            for at, count in per_time.items():
                if count > 1:
                    report.fires_duplicated += 1
                    example("duplicated", f"task {task_id} {at} x{count}")
        # Triggers.
        by_id = {run["id"]: run for run in rows[target]}
        report.triggers_sent = len(self.triggers)
        accepted = [t for t in self.triggers if t.status == 201 and t.run_id is not None]
        report.triggers_accepted = len(accepted)
        for trigger in accepted:
            run = by_id.get(trigger.run_id or 0)
            if run is None or run["status"] not in TERMINAL:
                report.triggers_lost += 1
                example("lost trigger", f"run {trigger.run_id}: {run and run['status']}")
            elif run["status"] != "Completed":
                report.triggers_not_completed += 1
                example("trigger not completed", f"run {run['id']}: {run['error_message']}")
        answered = {t.run_id for t in accepted}
        report.runs_without_answer = sum(
            1 for run in rows[target] if run["trigger"] == "manual" and run["id"] not in answered
        )
        # Rows against workflows, statuses against Temporal, phantoms, executions.
        all_rows = [run for runs in rows.values() for run in runs]
        report.runs = len(all_rows)
        client = await self.stack.temporal_client()
        workflows: dict[str, list[WorkflowExecutionStatus | None]] = {}
        for task_id in rows:
            async for execution in client.list_workflows(f"TaskId = {task_id}"):
                workflows.setdefault(execution.id, []).append(execution.status)
        row_ids = {run["workflow_id"] for run in all_rows}
        for workflow_id in workflows.keys() - row_ids:
            report.workflows_without_row += 1
            example("workflow without row", workflow_id)
        reasons: Counter[str] = Counter()
        for run in all_rows:
            if run["status"] not in TERMINAL:
                report.runs_open += 1
                example("open", f"run {run['id']} {run['status']}")
                continue
            statuses = workflows.get(run["workflow_id"])
            if statuses is None:
                report.rows_without_workflow += 1
                example("row without workflow", f"run {run['id']} {run['workflow_id']}")
            elif not any(s in AGREEING[run["status"]] for s in statuses):
                report.status_mismatches += 1
                example("mismatch", f"run {run['id']} {run['status']} vs {statuses}")
            if run["status"] != "Completed":
                reason = (run["error_message"] or "").split(":")[0][:60]
                reasons[reason] += 1
                if "not found in Temporal" in (run["error_message"] or ""):
                    report.phantom_runs += 1
        report.failed_reasons = dict(reasons.most_common())
        beyond_by_window: Counter[str] = Counter()
        wall_start = began_at.timestamp()
        for task_id, token_file in self.files.items():
            written = _read_tokens(token_file)
            executed = Counter(token for token, _ in written)
            reported = Counter(
                (run["result"] or "").strip() for run in rows[task_id] if run["result"]
            )
            extra = executed - reported
            for token, at in written:
                if extra[token] > 0:
                    extra[token] -= 1
                    report.executions_beyond_runs += 1
                    beyond_by_window[self._window_of(at - wall_start)] += 1
                    example("executed again", f"task {task_id}: token {token} at {at:.1f}")
        report.executions_beyond_runs_by_window = dict(beyond_by_window)
        self._availability(report)
        report.windows = [(f, round(a, 1), round(b, 1)) for f, a, b in self.held]
        report.examples = examples
        return report

    def _window_of(self, offset: float) -> str:
        """The fault window (or ``steady``) ``offset`` seconds into the soak falls in.

        A window runs on for a while after its end (the heartbeat timeout and
        then some): what its fault caused shows up then (an attempt lost with a
        worker is retried only after the heartbeat timeout).
        """
        for fault, start, length in self.held:
            if start <= offset < start + length + _AFTERMATH_SECONDS:
                return fault
        return "steady"

    def _availability(self, report: SoakReport) -> None:
        def window_of(sent_at: float) -> str:
            # Until the restarted process answers: a restart is part of its fault.
            for fault, start, length in self.held:
                if start <= sent_at < start + length:
                    return fault
            return "steady"

        sent: Counter[str] = Counter()
        ok: Counter[str] = Counter()
        refused: dict[str, Counter[str]] = {}
        for trigger in self.triggers:
            window = window_of(trigger.sent_at)
            sent[window] += 1
            if trigger.status == 201:
                ok[window] += 1
            else:
                refused.setdefault(window, Counter())[str(trigger.status or "none")] += 1
        report.availability = {
            name: ok[name] / sent[name] for name in ("steady", *FAULTS) if sent[name]
        }
        report.refused = {name: dict(counts) for name, counts in refused.items()}


def _read_tokens(path: Path) -> list[tuple[str, float]]:
    """``(token, epoch seconds)`` of each execution that wrote to ``path``."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    written = []
    for line in lines:
        token, _, at = line.strip().partition(" ")
        if token:
            written.append((token, float(at or 0)))
    return written


def run_soak(
    plan: SoakPlan, postgres_url: str = "", env: Mapping[str, str] | None = None
) -> SoakReport:
    """One soak on a fresh Postgres stack (``env`` over its settings); the stack is
    stopped and dropped afterwards."""
    with soak_stack(postgres_url, env) as (stack, proxy):
        return asyncio.run(Soak(stack, proxy, plan).run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--tasks", type=int, default=25, help="tasks on * * * * *")
    parser.add_argument("--trigger-interval", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=1, help="soaks in a row")
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    plan = SoakPlan.spread(args.minutes * 60, args.tasks, args.trigger_interval)
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: exit(128 + signum))
    reports = []
    try:
        for index in range(args.runs):
            print(f"== soak {index + 1} of {args.runs}: {plan.windows}", flush=True)
            report = run_soak(plan, args.postgres_url, DEPLOYED_HEARTBEAT)
            print("\n".join(report.lines()), flush=True)
            print(f"examples: {report.examples}", flush=True)
            reports.append(asdict(report))
    finally:
        signal.signal(signal.SIGTERM, previous)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "soak.json").write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
