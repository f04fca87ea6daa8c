"""``journalsync serve``: APScheduler 3.11 ``AsyncIOScheduler`` firing each school's slots.

Jobs are rebuilt from the plan at every start (a memory job store: nothing pickled), one per
school and operation, with ``coalesce=True`` and ``max_instances=1``. A job works out the slot
it belongs to from its cron expression, so the run key of a slot is the same however late the
job fires or how often the process restarts. Stopping lets the running slots finish (up to a
grace period); what is still running then is cancelled at a checkpoint — pulls commit cursor and
records per page, pushes go by outbox status — and resumed under the same key at the next start.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from core.logging import get_logger
from core.store import RunState, Store
from scheduler._lock import SchedulerLock
from scheduler._plan import Plan, SchoolPlan, cron_trigger
from scheduler._runner import Outcome, Runner, slot_of

__all__ = ["ALERTS_EVERY", "EmbeddedScheduler"]

#: Seconds between the embedded scheduler's alert checks when no run ends.
ALERTS_EVERY = 300

log = get_logger(__name__)

_INTERRUPTED = (
    RunState.PLANNED,
    RunState.PULLING,
    RunState.RECONCILING,
    RunState.PUSHING,
    RunState.VERIFYING,
)


class EmbeddedScheduler:
    def __init__(
        self,
        plan: Plan,
        store: Store,
        runner: Runner | None = None,
        *,
        grace_seconds: float | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.runner = runner or Runner(plan, store)
        self.grace_seconds = plan.runner.grace_seconds if grace_seconds is None else grace_seconds
        self.misfire_grace = plan.runner.misfire_grace_seconds
        self.scheduler: AsyncIOScheduler | None = None
        self._inflight: set[asyncio.Task[Outcome]] = set()

    def build(self) -> AsyncIOScheduler:
        """A fresh scheduler with one job per school and scheduled operation (not started)."""
        sched = AsyncIOScheduler(
            timezone=self.plan.timezone,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.misfire_grace,
            },
        )
        for school in self.plan.schools:
            several = len(self.plan.bindings(school.slug)) > 1
            suffix = f":{school.binding}" if several else ""
            for s in school.schedules:
                sched.add_job(
                    self.fire,
                    cron_trigger(s.cron, school.timezone),
                    args=(school.slug, s.operation),
                    kwargs={"binding": school.binding} if several else {},
                    id=f"{school.slug}{suffix}:{s.operation}",
                    name=f"{s.operation} {school.slug}{suffix.replace(':', ' ')}",
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=self.misfire_grace,
                )
        if self.runner.alerter is not None:
            # Besides the check after each run: conditions that change with no run (a hold
            # approved by hand, an outage journal's deadline passing) are told within minutes.
            sched.add_job(
                self.runner.alerter.after_run,
                IntervalTrigger(seconds=ALERTS_EVERY),
                id="alerts",
                name="alerts check",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
        self.scheduler = sched
        return sched

    def slot(self, school: SchoolPlan, operation: str, now: datetime) -> datetime:
        schedule = school.schedule(operation)
        found = None
        if schedule is not None:
            lookback = timedelta(seconds=self.misfire_grace)
            found = slot_of(schedule.cron, school.timezone, now, lookback)
        return found or now.replace(second=0, microsecond=0)

    async def fire(
        self, slug: str, operation: str, now: datetime | None = None, *, binding: str | None = None
    ) -> Outcome:
        """Run the school's slot of ``operation`` that ``now`` belongs to (the job's body).

        ``binding``: which of the school's platform bindings (default: its only one, or the one
        in effect)."""
        school = self.plan.binding(slug, binding)
        slot = self.slot(school, operation, now or datetime.now(UTC))
        task = asyncio.ensure_future(self.runner.run_school(school, operation, slot))
        self._inflight.add(task)
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._inflight.discard(task)

    async def resume_interrupted(self) -> list[Outcome]:
        """Resume the runs a previous process left half-way (same key, from the checkpoint)."""
        runs = [r for r in self.store.runs(limit=100_000) if r.state in _INTERRUPTED]
        known = {(s.slug, s.platform): s for s in self.plan.schools}
        tasks = []
        for r in runs:
            school = known.get((r.school, r.platform))
            if school is None:
                continue
            log.info("resuming an interrupted run", run=r.id, school=r.school)
            tasks.append(
                self.runner.run_school(
                    school, r.operation, r.created_at, scheduled=False, key=r.run_key
                )
            )
        return list(await asyncio.gather(*tasks))

    async def serve(self, stop: asyncio.Event) -> None:
        """Hold the store's scheduler lock, fire slots until ``stop`` is set, then shut down."""
        with SchedulerLock(_url(self.store)):
            await self.resume_interrupted()
            sched = self.build()
            sched.start()
            log.info(
                "scheduler started", jobs=len(sched.get_jobs()), schools=len(self.plan.schools)
            )
            try:
                await stop.wait()
            finally:
                sched.shutdown(wait=False)
                await self.drain()

    async def drain(self) -> None:
        """Let running slots finish within the grace period; cancel the rest at a checkpoint."""
        pending = {t for t in self._inflight if not t.done()}
        if not pending:
            return
        log.info("waiting for running slots", running=len(pending), grace=self.grace_seconds)
        _done, late = await asyncio.wait(pending, timeout=self.grace_seconds)
        for t in late:
            t.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("cancelled running slots; they resume at the next start", count=len(late))


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)
