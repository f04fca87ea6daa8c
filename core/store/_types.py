"""The values the store hands out and takes in: plain frozen dataclasses, no ORM objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from core.model import Record

__all__ = [
    "ChangeLogEntry",
    "ContentDigest",
    "DiffKind",
    "DiffRow",
    "FieldDiff",
    "Finding",
    "FindingCounts",
    "LocalCounts",
    "NewFinding",
    "OutboxItem",
    "PageCounts",
    "QuarantineRow",
    "RemoteChange",
    "Run",
    "RunState",
    "Transition",
]


class RunState(StrEnum):
    PLANNED = "planned"
    PULLING = "pulling"
    RECONCILING = "reconciling"
    HELD = "held"
    PUSHING = "pushing"
    VERIFYING = "verifying"
    DONE = "done"
    #: Finished, but a family-account school's pull read fewer pupils than its minimum.
    PARTIAL = "partial"
    FAILED = "failed"


#: Legal moves besides "any non-final state → failed" and "resume: done/failed → pulling".
ALLOWED: Mapping[RunState, frozenset[RunState]] = {
    RunState.PLANNED: frozenset({RunState.PULLING, RunState.RECONCILING, RunState.PUSHING}),
    RunState.PULLING: frozenset({RunState.RECONCILING, RunState.HELD, RunState.DONE}),
    RunState.RECONCILING: frozenset(
        {RunState.HELD, RunState.PUSHING, RunState.DONE, RunState.PARTIAL}
    ),
    # A held pull goes on to reconcile once approved; a held push to pushing.
    RunState.HELD: frozenset({RunState.RECONCILING, RunState.PUSHING, RunState.DONE}),
    RunState.PUSHING: frozenset({RunState.VERIFYING, RunState.DONE}),
    RunState.VERIFYING: frozenset({RunState.DONE, RunState.PARTIAL}),
    RunState.DONE: frozenset(),
    RunState.PARTIAL: frozenset(),
    RunState.FAILED: frozenset(),
}
FINAL = frozenset({RunState.DONE, RunState.PARTIAL, RunState.FAILED})

DiffKind = Literal["missing_on_platform", "extra_on_platform", "mismatch"]
OUTBOX_STATUSES = frozenset({"pending", "sent", "verified", "failed", "awaiting_entry"})
FINDING_STATUSES = frozenset({"open", "resolved", "accepted"})


@dataclass(frozen=True, slots=True)
class PageCounts:
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    quarantined: int
    #: Live records the page could not read again (quarantined): kept, marked stale.
    stale: int = 0


@dataclass(frozen=True, slots=True)
class LocalCounts:
    inserted: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class DiffRow:
    entity: str
    record_id: str
    kind: DiffKind
    local: dict[str, Any] | None
    remote: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    local: Any
    remote: Any


@dataclass(frozen=True, slots=True)
class NewFinding:
    """One drift finding as the drift module computed it, input to ``record_findings``."""

    entity: str
    record_id: str
    kind: str
    fields: tuple[FieldDiff, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    school: str
    platform: str
    entity: str
    record_id: str
    kind: str
    fields: tuple[FieldDiff, ...]
    status: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    note: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class FindingCounts:
    opened: int
    reopened: int
    #: Seen again and left as they were (open, or accepted with the same fields).
    still_open: int
    resolved: int


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    school: str
    platform: str
    entity: str
    record_id: str
    op: str
    record: Record
    channel: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    run_key: str
    school: str
    platform: str
    operation: str
    state: RunState
    created_at: datetime
    updated_at: datetime
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: False when ``start_run`` found the run key already there.
    created: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    run_id: str
    seq: int
    from_state: RunState | None
    to_state: RunState
    at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """One change a pull made to the snapshot. ``at`` is when the sync saw it."""

    seq: int
    school: str
    platform: str
    entity: str
    record_id: str
    at: datetime
    kind: Literal["inserted", "updated", "deleted"]
    run_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    id: int
    school: str
    platform: str
    run_id: str | None
    stream: str
    scope: str
    entity: str
    record: str
    field: str
    reason: str
    payload: Any
    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class ChangeLogEntry:
    seq: int
    school: str
    entity: str
    record_id: str
    at: datetime
    actor: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ContentDigest:
    """What :meth:`Store.content_digest` returns: equal for stores with equal synced contents."""

    #: SHA-256 (hex) over every part.
    digest: str
    #: Per part (remote snapshot, local journal, outbox …): its own digest and its row count.
    parts: Mapping[str, str]
    counts: Mapping[str, int]

    @property
    def records(self) -> int:
        """Rows of the remote snapshot (live and deleted)."""
        return self.counts.get("remote", 0)
