"""Scheduling many schools' sync runs: the embedded APScheduler runner and Temporal scale-out.

The plan (:class:`Plan`) says what to run; :func:`run_cycle` runs one slot of an operation for
every school (one school's failure never stops the others); :class:`EmbeddedScheduler` fires
slots from cron schedules; :mod:`scheduler.temporal` does the same across machines.
:func:`migrate_schools` runs a migration step (apply, verify) for many schools within the same
limits.
"""

from scheduler._alert_settings import (
    CONDITION_KINDS,
    AlertSettings,
    ConditionKind,
    SmtpSettings,
    WebhookSettings,
)
from scheduler._embedded import EmbeddedScheduler
from scheduler._holds import approve_run, discard_run, find_run, held_runs, hold_reason
from scheduler._lock import SchedulerLock
from scheduler._migrate import (
    MIGRATION_STEPS,
    MigrationJob,
    MigrationOutcome,
    MigrationRefused,
    MigrationStopped,
    apply_migration,
    certificate_counts,
    migrate_school,
    migrate_schools,
    plan_migration,
    pull_binding,
    roster_package,
    verify_migration,
)
from scheduler._plan import (
    OPERATIONS,
    AccountPlan,
    Blackout,
    EntityLimits,
    HostLimits,
    Limit,
    Operation,
    Plan,
    RunnerSettings,
    Schedule,
    SchoolHours,
    SchoolPlan,
    SecretRef,
    TemporalSettings,
    Window,
    cron_trigger,
    host_of,
    local_today,
)
from scheduler._runner import (
    ConnectorFactory,
    Outcome,
    ReportsHook,
    Runner,
    make_connector,
    run_key,
    slot_of,
)
from scheduler._status import SchoolStatus, next_slot, school_status
from scheduler._thresholds import ChangeVolume, change_volume, hold_check, threshold_breaches

__all__ = [
    "CONDITION_KINDS",
    "MIGRATION_STEPS",
    "OPERATIONS",
    "AccountPlan",
    "AlertSettings",
    "Blackout",
    "ChangeVolume",
    "ConditionKind",
    "ConnectorFactory",
    "EmbeddedScheduler",
    "EntityLimits",
    "HostLimits",
    "Limit",
    "MigrationJob",
    "MigrationOutcome",
    "MigrationRefused",
    "MigrationStopped",
    "Operation",
    "Outcome",
    "Plan",
    "ReportsHook",
    "Runner",
    "RunnerSettings",
    "Schedule",
    "SchedulerLock",
    "SchoolHours",
    "SchoolPlan",
    "SchoolStatus",
    "SecretRef",
    "SmtpSettings",
    "TemporalSettings",
    "WebhookSettings",
    "Window",
    "apply_migration",
    "approve_run",
    "certificate_counts",
    "change_volume",
    "cron_trigger",
    "discard_run",
    "find_run",
    "held_runs",
    "hold_check",
    "hold_reason",
    "host_of",
    "local_today",
    "make_connector",
    "migrate_school",
    "migrate_schools",
    "next_slot",
    "plan_migration",
    "pull_binding",
    "roster_package",
    "run_key",
    "school_status",
    "slot_of",
    "threshold_breaches",
    "verify_migration",
]
