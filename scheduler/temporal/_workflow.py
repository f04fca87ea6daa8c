"""The school-run workflow: one per (school, platform, operation, slot), its id the run key.

It only decides which slot it is for and calls the ``run_school`` activity on the task queue of
the school's upstream host; everything with side effects happens in the activity. The alerts
check workflow (started by a Schedule every few minutes) calls the ``check_alerts`` activity.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from scheduler.temporal._types import MigrationRequest, RunRequest, format_key

__all__ = ["AlertsCheckWorkflow", "SchoolMigrationWorkflow", "SchoolRunWorkflow"]

_SCHEDULED_AT = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name="SchoolRun")
class SchoolRunWorkflow:
    @workflow.run
    async def run(self, req: RunRequest) -> dict[str, Any]:
        if req.slot:
            slot = datetime.fromisoformat(req.slot)
        else:
            # Started by a Temporal Schedule: the slot is the time it was scheduled for.
            scheduled = workflow.info().typed_search_attributes.get(_SCHEDULED_AT)
            slot = (scheduled or workflow.now()).astimezone(UTC).replace(second=0, microsecond=0)
        key = format_key(req.school, req.platform, req.operation, slot)
        result: dict[str, Any] = await workflow.execute_activity(
            "run_school",
            args=[req, slot.isoformat(), key],
            task_queue=req.task_queue,
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(seconds=req.heartbeat_seconds),
            retry_policy=_retry(req.attempts, req.retry_initial_seconds),
        )
        return result


def _retry(attempts: int, initial_seconds: float) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=initial_seconds),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=10),
        maximum_attempts=attempts,
        non_retryable_error_types=["Fatal"],
    )


@workflow.defn(name="SchoolMigration")
class SchoolMigrationWorkflow:
    """One school's migration step (``apply`` or ``verify`` of one plan): the ``migrate_school``
    activity on the task queue of the target's upstream host, with the school runs' heartbeat
    and retries. The activity returns the school's outcome (done, awaiting entry, failed with
    the reason, refused); only a failure the platform may get over is retried, and a retried
    ``apply`` goes through the outbox by the plan's keys, so nothing is written twice."""

    @workflow.run
    async def run(self, req: MigrationRequest) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            "migrate_school",
            args=[req],
            task_queue=req.task_queue,
            start_to_close_timeout=timedelta(hours=6),
            heartbeat_timeout=timedelta(seconds=req.heartbeat_seconds),
            retry_policy=_retry(req.attempts, req.retry_initial_seconds),
        )
        return result


@workflow.defn(name="AlertsCheck")
class AlertsCheckWorkflow:
    """One check of the alert conditions (the embedded scheduler's periodic check): conditions
    that change with no run — a hold approved or discarded by hand, an outage journal's
    deadline passing — are told within minutes. What was told is kept in the store, so a check
    repeated by a retry or by another worker tells nothing twice."""

    @workflow.run
    async def run(self) -> dict[str, int]:
        result: dict[str, int] = await workflow.execute_activity(
            "check_alerts",
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=10),
                maximum_interval=timedelta(minutes=1),
                maximum_attempts=3,
            ),
        )
        return result
