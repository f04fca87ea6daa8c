"""The sync engine: pull, reconcile, push and the run state machine (DESIGN.md §4)."""

from core.sync._coverage import Coverage, check_coverage, held_coverage, school_coverage
from core.sync._limits import DEFAULT_PULL_LIMITS, Limit, PullLimits, pull_breaches
from core.sync._migration import (
    ApplyResult,
    apply_plan,
    plan_keys,
    queue_plan,
    status_by_key,
)
from core.sync._pull import PullResult, apply_held_pull, pull
from core.sync._push import PushResult, push
from core.sync._reconcile import (
    DEFAULT_POLICIES,
    Policy,
    ReconcileResult,
    capabilities_of,
    change_key,
    field_diffs,
    reconcile,
)
from core.sync._reconcile import _hash_of as record_hash
from core.sync._run import (
    PUSHING_OPERATIONS,
    HoldCheck,
    RunReport,
    continue_held,
    sync_school,
)

__all__ = [
    "DEFAULT_POLICIES",
    "DEFAULT_PULL_LIMITS",
    "PUSHING_OPERATIONS",
    "ApplyResult",
    "Coverage",
    "HoldCheck",
    "Limit",
    "Policy",
    "PullLimits",
    "PullResult",
    "PushResult",
    "ReconcileResult",
    "RunReport",
    "apply_held_pull",
    "apply_plan",
    "capabilities_of",
    "change_key",
    "check_coverage",
    "continue_held",
    "field_diffs",
    "held_coverage",
    "plan_keys",
    "pull",
    "pull_breaches",
    "push",
    "queue_plan",
    "reconcile",
    "record_hash",
    "school_coverage",
    "status_by_key",
    "sync_school",
]
