"""The activities: one school's slot through the same :class:`scheduler.Runner` as ``serve``
(its alert check after the run included), one school's migration step (``migrate apply|verify
--all --engine temporal``) through :func:`scheduler.migrate_school`, and the periodic alert
check.

It heartbeats while the run goes on; if its worker dies, Temporal gives the activity to another
worker after the heartbeat timeout, and the run resumes under the same run key from its
checkpoint (committed pull pages, outbox statuses), so nothing is pushed twice. A failure the
platform may get over (5xx, 429) is retried by Temporal after the platform's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.store import Store
from scheduler._migrate import migrate_school
from scheduler._plan import Plan
from scheduler._runner import Runner
from scheduler.temporal._types import MigrationRequest, RunRequest

__all__ = ["SchoolActivities"]


class SchoolActivities:
    def __init__(self, plan: Plan, store: Store, runner: Runner | None = None) -> None:
        self.plan = plan
        self.runner = runner or Runner(plan, store)

    @activity.defn(name="run_school")
    async def run_school(self, req: RunRequest, slot: str, key: str) -> dict[str, Any]:
        info = activity.info()
        school = self.plan.on_platform(req.school, req.platform)
        beat = asyncio.create_task(_heartbeat(req.heartbeat_seconds / 3))
        try:
            out = await self.runner.run_school(
                school,
                req.operation,
                datetime.fromisoformat(slot),
                scheduled=req.scheduled,
                key=key,
                retry_failed=info.attempt > 1,
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if out.state == "failed" and out.retriable and info.attempt < req.attempts:
            delay = timedelta(seconds=out.retry_after) if out.retry_after else None
            raise ApplicationError(out.reason, type="Retriable", next_retry_delay=delay)
        return out.as_dict()

    @activity.defn(name="migrate_school")
    async def migrate_school(self, req: MigrationRequest) -> dict[str, Any]:
        """One school's migration step through the same code as the embedded engine
        (:func:`scheduler.migrate_school`): ``apply`` queues the plan's writes in the target's
        outbox by the plan's own keys and sends only what is not yet verified, so an attempt
        after a worker died (heartbeat timeout) writes nothing twice."""
        info = activity.info()
        beat = asyncio.create_task(_heartbeat(req.heartbeat_seconds / 3))
        try:
            out = await migrate_school(
                self.runner,
                req.step,
                req.school,
                req.plan_id,
                source=req.source,
                target=req.target,
                out=Path(req.out) if req.out else None,
                no_pull=req.no_pull,
                config=req.config,
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if out.state == "failed" and out.retriable and info.attempt < req.attempts:
            delay = timedelta(seconds=out.retry_after) if out.retry_after else None
            raise ApplicationError(out.reason, type="Retriable", next_retry_delay=delay)
        return out.as_dict()

    @activity.defn(name="check_alerts")
    async def check_alerts(self) -> dict[str, int]:
        """Evaluate the alert conditions now and tell the channels what changed (once per
        condition, and once when it clears: the store keeps what was told). A run's own
        check happens in ``run_school``, after the run (the same :class:`Runner` hook)."""
        alerter = self.runner.alerter
        if alerter is None:  # no [alerts] in the config the worker runs with
            return {"conditions": 0, "sent": 0, "failed": 0}
        report = await alerter.check()
        return {
            "conditions": len(report.evaluation.conditions),
            "sent": len(report.sent),
            "failed": len(report.failed),
        }


async def _heartbeat(every: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)
