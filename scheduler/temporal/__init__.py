"""Scale-out on Temporal: a workflow per school run (id = run key), activities calling the same
runner as the embedded scheduler, one task queue per upstream host, Schedules from the config;
a workflow per school for a migration's ``apply``/``verify`` (:func:`migrate_all`)."""

from scheduler.temporal._activities import SchoolActivities
from scheduler.temporal._client import (
    activity_queue,
    alerts_schedule_id,
    connect,
    migrate_all,
    request_for,
    run_cycle,
    run_worker,
    start_run,
    sync_schedules,
    workflow_queue,
)
from scheduler.temporal._dev import dev_server, temporal_binary
from scheduler.temporal._types import MigrationRequest, RunRequest, format_key
from scheduler.temporal._workflow import (
    AlertsCheckWorkflow,
    SchoolMigrationWorkflow,
    SchoolRunWorkflow,
)

__all__ = [
    "AlertsCheckWorkflow",
    "MigrationRequest",
    "RunRequest",
    "SchoolActivities",
    "SchoolMigrationWorkflow",
    "SchoolRunWorkflow",
    "activity_queue",
    "alerts_schedule_id",
    "connect",
    "dev_server",
    "format_key",
    "migrate_all",
    "request_for",
    "run_cycle",
    "run_worker",
    "start_run",
    "sync_schedules",
    "temporal_binary",
    "workflow_queue",
]
