"""Persistent state: remote snapshot, local journal, drift findings, outbox, runs (DESIGN.md §7).

SQLAlchemy 2 Core on SQLite (WAL) or PostgreSQL, migrated by Alembic when opened::

    store = Store.open("sqlite:///journal.db")
    counts = store.commit_page("school-1", "netschool", page, run_id=run.id)
"""

from core.store._accounts import AccountRow, RosterPupil
from core.store._alerts import AlertNotice
from core.store._base import in_chunks, is_memory, parse_store_url, utcnow
from core.store._digest import CONTENT_PARTS
from core.store._drift import finding_id
from core.store._drift_view import ENTITY_TEXT, DriftRow
from core.store._drift_view import Change as DriftChange
from core.store._facts import FACT_ENTITIES, FIELD_COLUMNS
from core.store._plans import PLAN_STATES, PlanRow
from core.store._runs import run_id_for
from core.store._schema import (
    NAMING_CONVENTION,
    UTCDateTime,
    alert_notices,
    cursors,
    drift_findings,
    local_changes,
    local_records,
    metadata,
    migration_plans,
    outbox,
    quarantine,
    remote_facts,
    remote_records,
    run_transitions,
    runs,
    schema_drift,
)
from core.store._schema_drift import SchemaDriftRow
from core.store._school_lock import SCHOOL_LOCK_WAIT, SchoolBusy, SchoolLock
from core.store._store import Store
from core.store._types import (
    ChangeLogEntry,
    ContentDigest,
    DiffRow,
    FieldDiff,
    Finding,
    FindingCounts,
    LocalCounts,
    NewFinding,
    OutboxItem,
    PageCounts,
    QuarantineRow,
    RemoteChange,
    Run,
    RunState,
    Transition,
)

__all__ = [
    "CONTENT_PARTS",
    "ENTITY_TEXT",
    "FACT_ENTITIES",
    "FIELD_COLUMNS",
    "NAMING_CONVENTION",
    "PLAN_STATES",
    "SCHOOL_LOCK_WAIT",
    "AccountRow",
    "AlertNotice",
    "ChangeLogEntry",
    "ContentDigest",
    "DiffRow",
    "DriftChange",
    "DriftRow",
    "FieldDiff",
    "Finding",
    "FindingCounts",
    "LocalCounts",
    "NewFinding",
    "OutboxItem",
    "PageCounts",
    "PlanRow",
    "QuarantineRow",
    "RemoteChange",
    "RosterPupil",
    "Run",
    "RunState",
    "SchemaDriftRow",
    "SchoolBusy",
    "SchoolLock",
    "Store",
    "Transition",
    "UTCDateTime",
    "alert_notices",
    "cursors",
    "drift_findings",
    "finding_id",
    "in_chunks",
    "is_memory",
    "local_changes",
    "local_records",
    "metadata",
    "migration_plans",
    "outbox",
    "parse_store_url",
    "quarantine",
    "remote_facts",
    "remote_records",
    "run_id_for",
    "run_transitions",
    "runs",
    "schema_drift",
    "utcnow",
]
