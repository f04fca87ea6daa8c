"""Talking to Temporal: connect, run a cycle as workflows, keep Schedules equal to the config,
and run workers (one activity task queue per upstream host, rate-limited by the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.errors import ConfigError
from core.logging import get_logger
from core.store import Store
from scheduler._embedded import ALERTS_EVERY
from scheduler._migrate import MIGRATION_STEPS, MigrationJob, MigrationOutcome
from scheduler._plan import Plan, SchoolPlan
from scheduler._runner import Outcome, Runner, run_key
from scheduler.temporal._activities import SchoolActivities
from scheduler.temporal._types import MigrationRequest, RunRequest
from scheduler.temporal._workflow import (
    AlertsCheckWorkflow,
    SchoolMigrationWorkflow,
    SchoolRunWorkflow,
)

__all__ = [
    "activity_queue",
    "alerts_schedule_id",
    "connect",
    "migrate_all",
    "request_for",
    "run_cycle",
    "run_worker",
    "start_run",
    "sync_schedules",
    "workflow_queue",
]

log = get_logger(__name__)


def workflow_queue(plan: Plan) -> str:
    return f"{plan.temporal.task_queue_prefix}-workflows"


def activity_queue(plan: Plan, host: str) -> str:
    """One task queue per upstream host: the server rate-limits each one."""
    return f"{plan.temporal.task_queue_prefix}-host-{host}"


async def connect(plan: Plan) -> Client:
    try:
        return await Client.connect(plan.temporal.address, namespace=plan.temporal.namespace)
    except RuntimeError as exc:
        raise ConfigError(
            f"cannot reach Temporal at {plan.temporal.address}: {exc}",
            hint="start the server (temporal server start-dev) or fix [temporal] address",
        ) from None


def request_for(
    plan: Plan, school: SchoolPlan, operation: str, slot: datetime | None, *, scheduled: bool
) -> RunRequest:
    t = plan.temporal
    return RunRequest(
        school=school.slug,
        platform=school.platform,
        operation=operation,
        task_queue=activity_queue(plan, school.host),
        slot=slot.isoformat() if slot else "",
        scheduled=scheduled,
        heartbeat_seconds=t.heartbeat_seconds,
        attempts=t.activity_attempts,
        retry_initial_seconds=t.retry_initial_seconds,
    )


async def start_run(
    client: Client, plan: Plan, school: SchoolPlan, operation: str, slot: datetime
) -> Any:
    """Start the slot's workflow (id = run key), or join the one already there."""
    key = run_key(school, operation, slot)
    req = request_for(plan, school, operation, slot, scheduled=False)
    try:
        return await client.start_workflow(
            SchoolRunWorkflow.run,
            req,
            id=key,
            task_queue=workflow_queue(plan),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(key)  # finished before: its result stands


async def run_cycle(
    client: Client,
    plan: Plan,
    operation: str,
    slot: datetime,
    schools: Sequence[SchoolPlan] | None = None,
) -> list[Outcome]:
    """One slot of ``operation`` for every school, as workflows; waits for all of them."""
    chosen = list(plan.schools if schools is None else schools)
    handles = await asyncio.gather(*(start_run(client, plan, s, operation, slot) for s in chosen))
    results = await asyncio.gather(*(h.result() for h in handles), return_exceptions=True)
    out: list[Outcome] = []
    for school, res in zip(chosen, results, strict=True):
        if isinstance(res, BaseException):
            key = run_key(school, operation, slot)
            out.append(Outcome(school.slug, school.platform, operation, key, "failed", str(res)))
        else:
            out.append(Outcome(**res))
    return out


async def migrate_all(
    client: Client,
    plan: Plan,
    step: str,
    jobs: Sequence[MigrationJob],
    *,
    out: Path | None = None,
    no_pull: bool = False,
    config: str = "journalsync.toml",
) -> list[MigrationOutcome]:
    """``step`` (``plan``, ``apply`` or ``verify``) for every school, a workflow per school on
    the target host's task queue; waits for all of them. The workflow's id is
    ``migrate:<step>:<school>:<plan>`` (``plan``: ``…:<source>-<target>``): a step already
    running is joined, not started twice; one that ended before is started anew (every step
    may be run again: ``apply`` resumes, ``verify`` pulls again, ``plan`` plans anew)."""
    if step not in MIGRATION_STEPS:
        raise ValueError(f"unknown migration step {step!r}")
    t = plan.temporal

    async def start(job: MigrationJob) -> Any:
        target = plan.on_platform(job.school, job.platform)
        req = MigrationRequest(
            school=job.school,
            platform=job.platform,
            step=step,
            plan_id=job.plan_id,
            task_queue=activity_queue(plan, target.host),
            source=job.source,
            target=job.target,
            out=str((out / job.school).resolve()) if out else "",
            no_pull=no_pull,
            config=config,
            heartbeat_seconds=t.heartbeat_seconds,
            attempts=t.activity_attempts,
            retry_initial_seconds=t.retry_initial_seconds,
        )
        what = job.plan_id if step != "plan" else f"{job.source}-{job.target}"
        return await client.start_workflow(
            SchoolMigrationWorkflow.run,
            req,
            id=f"migrate:{step}:{job.school}:{what}",
            task_queue=workflow_queue(plan),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )

    handles = await asyncio.gather(*(start(j) for j in jobs), return_exceptions=True)

    async def result(handle: Any) -> Any:
        if isinstance(handle, BaseException):
            raise handle
        return await handle.result()

    results = await asyncio.gather(*(result(h) for h in handles), return_exceptions=True)
    outcomes: list[MigrationOutcome] = []
    for job, res in zip(jobs, results, strict=True):
        if isinstance(res, BaseException):
            outcomes.append(MigrationOutcome(job.school, job.plan_id, step, "failed", _cause(res)))
        else:
            outcomes.append(MigrationOutcome(**res))
    return outcomes


def _cause(exc: BaseException) -> str:
    """The innermost message of a workflow's failure (the activity's own reason)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


def _schedule_id(plan: Plan, school: SchoolPlan, operation: str) -> str:
    return f"{plan.temporal.task_queue_prefix}:{school.slug}:{school.platform}:{operation}"


def alerts_schedule_id(plan: Plan) -> str:
    """The Schedule of the periodic alert check (with ``[alerts]`` in the config)."""
    return f"{plan.temporal.task_queue_prefix}:alerts"


async def sync_schedules(client: Client, plan: Plan) -> tuple[int, int, int]:
    """Make the server's Schedules equal to the config: (created, updated, deleted). With
    ``[alerts]``, one more: the alert check every five minutes, as the embedded scheduler
    does (besides the check after each run, which the run's activity makes)."""
    wanted: dict[str, Schedule] = {}
    if plan.alerts is not None:
        wanted[alerts_schedule_id(plan)] = Schedule(
            action=ScheduleActionStartWorkflow(
                AlertsCheckWorkflow.run,
                id="alerts-check",
                task_queue=workflow_queue(plan),
            ),
            spec=ScheduleSpec(
                intervals=[ScheduleIntervalSpec(every=timedelta(seconds=ALERTS_EVERY))]
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        )
    for school in plan.schools:
        for s in school.schedules:
            sid = _schedule_id(plan, school, s.operation)
            wanted[sid] = Schedule(
                action=ScheduleActionStartWorkflow(
                    SchoolRunWorkflow.run,
                    request_for(plan, school, s.operation, None, scheduled=True),
                    # Temporal appends the scheduled time: "<id>-<time>" names the slot.
                    id=f"{school.slug}:{school.platform}:{s.operation}",
                    task_queue=workflow_queue(plan),
                ),
                spec=ScheduleSpec(cron_expressions=[s.cron], time_zone_name=school.timezone),
                policy=SchedulePolicy(
                    overlap=ScheduleOverlapPolicy.SKIP,  # max_instances=1
                    catchup_window=timedelta(seconds=plan.runner.misfire_grace_seconds),
                ),
            )
    prefix = f"{plan.temporal.task_queue_prefix}:"
    existing = set()
    async for entry in await client.list_schedules():
        if entry.id.startswith(prefix):
            existing.add(entry.id)
    created = updated = deleted = 0
    for sid, schedule in wanted.items():

        def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=new)

        if sid not in existing:
            try:
                await client.create_schedule(sid, schedule)
                created += 1
                continue
            except ScheduleAlreadyRunningError:
                pass  # the listing lags behind (it is eventually consistent)
        await client.get_schedule_handle(sid).update(replace)
        updated += 1
    for sid in existing - set(wanted):
        try:
            await client.get_schedule_handle(sid).delete()
            deleted += 1
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise  # else: deleted already; the listing lags behind
    log.info("temporal schedules synced", created=created, updated=updated, deleted=deleted)
    return created, updated, deleted


async def run_worker(
    plan: Plan,
    store: Store,
    *,
    stop: asyncio.Event,
    identity: str | None = None,
    client: Client | None = None,
) -> None:
    """Poll the workflow queue and every host's activity queue until ``stop`` is set."""
    client = client or await connect(plan)
    acts = SchoolActivities(plan, store, Runner(plan, store))
    ident = identity or None
    # The workflow only calls Temporal's API; its imports (the scheduler package, SQLAlchemy …)
    # are passed through rather than re-imported in the sandbox, which they do not survive.
    sandbox = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    )
    workers = [
        Worker(
            client,
            task_queue=workflow_queue(plan),
            workflows=[SchoolRunWorkflow, SchoolMigrationWorkflow, AlertsCheckWorkflow],
            activities=[acts.check_alerts],
            workflow_runner=sandbox,
            identity=ident,
        )
    ]
    for host in sorted({s.host for s in plan.schools}):
        limits = plan.host_limits(host)
        workers.append(
            Worker(
                client,
                task_queue=activity_queue(plan, host),
                activities=[acts.run_school, acts.migrate_school],
                max_concurrent_activities=limits.schools,
                max_task_queue_activities_per_second=plan.temporal.activities_per_second,
                graceful_shutdown_timeout=timedelta(seconds=plan.runner.grace_seconds),
                identity=ident,
            )
        )
    log.info("temporal worker started", queues=len(workers), identity=identity or "")
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
