"""One slot of one operation for one school, or for every school: the unit both engines run.

Runs of one school never overlap, whichever process starts them (this runner, ``journalsync
push`` by hand, a Temporal worker): each holds the school's lock (:class:`core.store.SchoolLock`)
while it talks to the platform, so two runs never share a rotating token. A run that waits too
long for it is skipped with the reason.

A slot has a deterministic run key ``school:platform:operation:slot`` (slot in UTC), so a slot
that already ran — after a restart, or a duplicate start — is never run twice: the store's run
with that key says what happened. One school's failure is recorded on its run with a reason
and never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core.connector import Connector, PullMode
from core.errors import JournalSyncError, Retriable
from core.logging import get_logger, log_context, redact
from core.platform import connector_class
from core.store import (
    SCHOOL_LOCK_WAIT,
    Run,
    RunState,
    SchoolBusy,
    SchoolLock,
    Store,
    run_id_for,
)
from core.sync import sync_school
from scheduler._plan import Plan, SchoolPlan, cron_trigger, local_today
from scheduler._thresholds import hold_check, pull_limits
from scheduler.alerts import Alerter

__all__ = [
    "ConnectorFactory",
    "Outcome",
    "ReportsHook",
    "Runner",
    "make_connector",
    "run_key",
    "slot_of",
]

log = get_logger(__name__)

#: (plan, school, store) → a connector; the default builds the installed connector over HTTP.
ConnectorFactory = Callable[[Plan, SchoolPlan, Store], Connector]
#: Produces a school's compliance reports; returns counts to record on the run.
ReportsHook = Callable[[Store, SchoolPlan], Awaitable[Mapping[str, int]]]

_ACTIVE = frozenset(
    {RunState.PLANNED, RunState.PULLING, RunState.RECONCILING, RunState.PUSHING, RunState.VERIFYING}
)


def run_key(school: SchoolPlan, operation: str, slot: datetime) -> str:
    """The deterministic key of one school's run of ``operation`` in ``slot``."""
    return f"{school.slug}:{school.platform}:{operation}:{slot.astimezone(UTC):%Y%m%dT%H%MZ}"


def slot_of(cron: str, timezone: str, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest cron fire time ``≤ now`` within ``lookback`` (the slot a late job belongs to)."""
    trigger = cron_trigger(cron, timezone)
    latest: datetime | None = None
    t = trigger.get_next_fire_time(None, now - lookback)
    while t is not None and t <= now:
        latest = t
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return latest


def make_connector(plan: Plan, school: SchoolPlan, store: Store) -> Connector:
    """The installed connector, with its saved state (rotated tokens, encrypted in the store)."""
    cls = connector_class(school.platform)

    def save(state: Mapping[str, Any]) -> None:
        store.save_state(school.slug, school.platform, state)

    return cls(
        school.target(),
        state=store.load_state(school.slug, school.platform),
        save_state=save,
        http=plan.http_settings(school),
        today=school.today,
    )


@dataclass(slots=True)
class Outcome:
    school: str
    platform: str
    operation: str
    run_key: str
    #: done, failed, held, skipped.
    state: str
    reason: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    #: A failure the same slot may get past later (platform down, rate limited).
    retriable: bool = False
    #: The platform's ``Retry-After``, seconds, when it gave one.
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "platform": self.platform,
            "operation": self.operation,
            "run_key": self.run_key,
            "state": self.state,
            "reason": self.reason,
            "counts": self.counts,
            "retriable": self.retriable,
            "retry_after": self.retry_after,
        }


class Runner:
    """Runs slots against one store, with per-host limits on schools in flight."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        *,
        connectors: ConnectorFactory = make_connector,
        reports: ReportsHook | None = None,
        lock_wait: float = SCHOOL_LOCK_WAIT,
        alerter: Alerter | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        #: Checks the alert conditions after each run (default: the plan's ``[alerts]``).
        self.alerter = alerter
        if alerter is None and plan.alerts is not None:
            self.alerter = Alerter(plan, store)
        #: Seconds a run waits for another run of its school to finish before it is skipped.
        self.lock_wait = lock_wait
        self._connectors = connectors
        self._reports = reports
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._parallel = asyncio.Semaphore(max(plan.runner.parallel_schools, 1))

    def _host_slot(self, school: SchoolPlan) -> asyncio.Semaphore:
        sem = self._hosts.get(school.host)
        if sem is None:
            sem = asyncio.Semaphore(self.plan.host_limits(school.host).schools)
            self._hosts[school.host] = sem
        return sem

    @asynccontextmanager
    async def slots(self, school: SchoolPlan) -> AsyncIterator[None]:
        """Hold one of the process's ``parallel_schools`` and one of the school's host's
        ``schools`` (what a run holds while it talks to the platform)."""
        async with self._parallel, self._host_slot(school):
            yield

    async def run_cycle(
        self,
        operation: str,
        slot: datetime,
        schools: Iterable[SchoolPlan] | None = None,
        *,
        scheduled: bool = True,
    ) -> list[Outcome]:
        """One slot of ``operation`` for every school (or those given), concurrently."""
        chosen = list(self.plan.schools if schools is None else schools)
        tasks = [self.run_school(s, operation, slot, scheduled=scheduled) for s in chosen]
        return list(await asyncio.gather(*tasks))

    async def run_school(
        self,
        school: SchoolPlan,
        operation: str,
        slot: datetime,
        *,
        scheduled: bool = True,
        key: str | None = None,
        retry_failed: bool = False,
    ) -> Outcome:
        """One school's run of ``operation`` for ``slot``. Never raises for the school's faults.

        ``scheduled``: apply the schedule's school-hours window (blackouts always apply).
        ``retry_failed``: run a slot whose run failed again (a retry), instead of skipping it.
        After a run (not a skipped slot) the alert conditions are checked (never raises).
        """
        out = await self._run_school(school, operation, slot, scheduled, key, retry_failed)
        if self.alerter is not None and out.state != "skipped":
            await self.alerter.after_run()
        return out

    async def _run_school(
        self,
        school: SchoolPlan,
        operation: str,
        slot: datetime,
        scheduled: bool,
        key: str | None,
        retry_failed: bool,
    ) -> Outcome:
        key = key or run_key(school, operation, slot)
        out = Outcome(school.slug, school.platform, operation, key, "skipped")
        with log_context(school=school.slug, platform=school.platform, run_key=key):
            if reason := self._skip_reason(school, operation, slot, key, scheduled, retry_failed):
                return _skipped(out, reason)
            if operation == "reports":  # reads the store only: no platform, no token
                async with self._parallel, self._host_slot(school):
                    return await self._run(school, operation, key, out)
            # The school's lock first, then the shared slots: a run waiting for its school
            # holds no slot another school could use.
            lock = SchoolLock(self.store, school.slug, wait=self.lock_wait)
            try:
                await lock.acquire_async()
            except SchoolBusy as exc:
                return _skipped(out, exc.message)
            try:
                # What the other run did while this one waited (ran this slot, left a hold).
                if why := self._skip_reason(school, operation, slot, key, scheduled, retry_failed):
                    return _skipped(out, why)
                async with self._parallel, self._host_slot(school):
                    return await self._run(school, operation, key, out)
            finally:
                lock.release()

    def _skip_reason(
        self,
        school: SchoolPlan,
        operation: str,
        slot: datetime,
        key: str,
        scheduled: bool,
        retry_failed: bool,
    ) -> str | None:
        if blackout := self.plan.blackout(school, operation, slot):
            why = f": {blackout.reason}" if blackout.reason else ""
            return f"blackout window {blackout.name!r}{why}"
        if scheduled and operation == "push":
            day = local_today(school, slot)
            current = self.plan.in_effect(school.slug, day)
            if current is not school:
                return (
                    f"school {school.slug}: binding {school.binding!r} is not in effect on"
                    f" {day:%d.%m.%Y} (pushes go to binding {current.binding!r})"
                )
        if scheduled:
            schedule = school.schedule(operation)
            window = schedule.window if schedule else "any"
            inside = school.school_hours.contains(slot.astimezone(school.tz))
            if window == "school_hours" and not inside:
                return "outside school hours (this schedule runs in school hours only)"
            if window == "outside_school_hours" and inside:
                return "in school hours (this schedule runs outside school hours only)"
        existing = _get_run(self.store, key)
        again = retry_failed and existing is not None and existing.state is RunState.FAILED
        if existing is not None and existing.state not in _ACTIVE and not again:
            return f"slot already ran: run {existing.id[:8]} is {existing.state.value}"
        # A held push stops the school's runs; a held *pull* does not: a later read of the same
        # scopes supersedes what it holds (and closes it once nothing of it is left).
        held = next(
            (
                r
                for r in self.store.runs(school=school.slug, limit=20)
                if r.state is RunState.HELD
                and r.platform == school.platform
                and not self.store.staged_count(r.id)
            ),
            None,
        )
        if held is not None and held.run_key != key:
            return (
                f"run {held.id[:8]} is held for approval (journalsync runs approve {held.id[:8]})"
            )
        return None

    async def _run(self, school: SchoolPlan, operation: str, key: str, out: Outcome) -> Outcome:
        try:
            if operation == "reports":
                return await self._run_reports(school, key, out)
            existing = _get_run(self.store, key)
            approved = False
            if existing is not None and existing.state in _ACTIVE:
                # Interrupted (a crash or a hard stop): resume from the committed cursors and
                # the outbox statuses. An approved run goes on without a second hold.
                approved = _was_approved(self.store, existing)
                self.store.transition(
                    existing.id, RunState.FAILED, error="interrupted", note="interrupted; resuming"
                )
            connector = self._connectors(self.plan, school, self.store)
            async with connector:
                report = await sync_school(
                    self.store,
                    connector,
                    run_key=key,
                    operation=operation,
                    mode=PullMode.FULL if operation == "reconcile" else PullMode.INCREMENTAL,
                    do_push=operation == "push",
                    hold=None if approved else hold_check(school.thresholds),
                    pull_limits=pull_limits(school.thresholds),
                    min_coverage=school.min_coverage,
                )
            run = report.run
            if isinstance(report.error, Retriable):
                out.retriable, out.retry_after = True, report.error.retry_after
        except Exception as exc:  # one school's failure never stops the others
            run = _record_failure(self.store, school, operation, key, exc)
            out.retriable = isinstance(exc, Retriable | httpx.TransportError)
            out.retry_after = getattr(exc, "retry_after", None)
        out.state = "held" if run.state is RunState.HELD else run.state.value
        out.counts = dict(run.counts)
        out.reason = run.error or (self._hold_note(run) if run.state is RunState.HELD else "")
        ended = log.warning if out.state in ("failed", "held", "partial") else log.info
        ended("run finished", state=out.state, reason=out.reason)
        return out

    async def _run_reports(self, school: SchoolPlan, key: str, out: Outcome) -> Outcome:
        if self._reports is None:
            out.reason = "no report generator is configured for the scheduler"
            return out
        run = self.store.start_run(key, school.slug, school.platform, "reports")
        counts = dict(await self._reports(self.store, school))
        run = self.store.transition(run.id, RunState.DONE, counts=counts, note="reports")
        out.state, out.counts = run.state.value, dict(run.counts)
        return out

    def _hold_note(self, run: Run) -> str:
        notes = [t.note for t in self.store.transitions(run.id) if t.to_state is RunState.HELD]
        return notes[-1] if notes else "held for approval"


def _skipped(out: Outcome, reason: str) -> Outcome:
    out.reason = reason
    log.info("slot skipped", operation=out.operation, reason=reason)
    return out


def _get_run(store: Store, key: str) -> Run | None:
    try:
        return store.get_run(run_id_for(key))
    except KeyError:
        return None


def _was_approved(store: Store, run: Run) -> bool:
    return any(t.from_state is RunState.HELD for t in store.transitions(run.id))


def failure_reason(exc: BaseException) -> str:
    """A reason a person can act on, with secrets masked."""
    if isinstance(exc, JournalSyncError):
        text = exc.message + (f" — {exc.hint}" if exc.hint else "")
    elif isinstance(exc, httpx.HTTPError):
        text = f"the platform could not be reached ({type(exc).__name__}); try again later"
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return str(redact(text))


def _record_failure(
    store: Store, school: SchoolPlan, operation: str, key: str, exc: BaseException
) -> Run:
    reason = failure_reason(exc)
    log.error("run failed", error=reason, kind=type(exc).__name__)
    run = store.start_run(key, school.slug, school.platform, operation)
    if run.state in (RunState.DONE, RunState.PARTIAL, RunState.FAILED, RunState.HELD):
        return run
    return store.transition(run.id, RunState.FAILED, error=reason)
