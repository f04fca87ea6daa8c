"""The sync engine: pull, reconcile, push and the run state machine (DESIGN.md §4)."""

from core.sync._pull import PullResult, pull
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
from core.sync._run import HoldCheck, RunReport, continue_held, sync_school

__all__ = [
    "DEFAULT_POLICIES",
    "HoldCheck",
    "Policy",
    "PullResult",
    "PushResult",
    "ReconcileResult",
    "RunReport",
    "capabilities_of",
    "change_key",
    "continue_held",
    "field_diffs",
    "pull",
    "push",
    "reconcile",
    "sync_school",
]
