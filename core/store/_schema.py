"""The store's tables (DESIGN.md §7), as SQLAlchemy Core metadata.

The migrations in ``migrations/versions`` create exactly these; the metadata is also what a
benchmark or a bulk loader inserts into directly. Record content is kept as the record's own
``content_json`` text (never re-serialised), with ``content_hash`` beside it so that "has it
changed?" and the drift query only ever compare 32-character hashes.

Timestamps are timezone-aware UTC in Python on both backends (SQLite stores them naive).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "JSONText",
    "UTCDateTime",
    "account_outcomes",
    "alert_notices",
    "connector_state",
    "cursors",
    "drift_findings",
    "facts_watermark",
    "family_roster",
    "identity_matches",
    "local_changes",
    "local_records",
    "metadata",
    "outbox",
    "quarantine",
    "remote_changes",
    "remote_facts",
    "remote_records",
    "run_transitions",
    "runs",
    "schema_drift",
    "staged_pages",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends; naive values are refused (they are always a bug)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, serialised with orjson (sorted keys, so equal values compare equal)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)


def _id(name: str, **kw: Any) -> Column[str]:
    return Column(name, String(64), **kw)


remote_records = Table(
    "remote_records",
    metadata,
    _id("platform", nullable=False),
    _id("school", nullable=False),
    _id("entity", nullable=False),
    _id("id", nullable=False),
    Column("scope", String(255), nullable=False),
    _id("parent_id"),
    Column("content_hash", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("provenance", Text),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    _id("run_id"),
    # Live, but its last read failed: the platform still lists the record and the connector
    # could not map it (quarantined), so this is its last good version (DESIGN.md §4).
    Column("stale", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("platform", "id"),
    # The drift query reads only these columns: it walks this index, never the wide rows.
    Index(
        "ix_remote_records_drift",
        "platform",
        "school",
        "deleted",
        "id",
        "content_hash",
        "entity",
        "parent_id",
    ),
    # Scope replacement: the live records of one scope.
    Index("ix_remote_records_scope", "platform", "school", "scope", "entity"),
)

local_records = Table(
    "local_records",
    metadata,
    _id("school", nullable=False),
    _id("entity", nullable=False),
    _id("id", nullable=False),
    _id("parent_id"),
    Column("content_hash", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("id"),
    Index("ix_local_records_drift", "school", "deleted", "id", "content_hash", "entity"),
    # "Does the school keep records of this entity under this parent?" (extra_on_platform).
    Index("ix_local_records_parent", "school", "entity", "parent_id", "deleted"),
)

local_changes = Table(
    "local_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    _id("school", nullable=False),
    _id("entity", nullable=False),
    _id("record_id", nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("before", Text),
    Column("after", Text),
    Index("ix_local_changes_record", "school", "record_id", "seq"),
)

cursors = Table(
    "cursors",
    metadata,
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("stream", String(255), nullable=False),
    Column("value", JSONText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("school", "platform", "stream"),
)

drift_findings = Table(
    "drift_findings",
    metadata,
    Column("id", String(32), nullable=False),
    _id("school", nullable=False),
    _id("platform", nullable=False),
    _id("entity", nullable=False),
    _id("record_id", nullable=False),
    Column("kind", String(32), nullable=False),
    Column("fields", JSONText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("note", Text, nullable=False, server_default=""),
    _id("run_id"),
    PrimaryKeyConstraint("id"),
    Index("ix_drift_findings_status", "school", "platform", "status"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False),
    _id("school", nullable=False),
    _id("platform", nullable=False),
    _id("entity", nullable=False),
    _id("record_id", nullable=False),
    Column("op", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("key"),
    Index("ix_outbox_status", "school", "platform", "status"),
)

runs = Table(
    "runs",
    metadata,
    _id("id", nullable=False),
    Column("run_key", String(255), nullable=False),
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("operation", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("counts", JSONText, nullable=False),
    Column("error", Text),
    PrimaryKeyConstraint("id"),
    UniqueConstraint("run_key"),
    Index("ix_runs_school", "school", "created_at"),
    Index("ix_runs_created", "created_at", "id"),
)

run_transitions = Table(
    "run_transitions",
    metadata,
    _id("run_id", nullable=False),
    Column("seq", Integer, nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("run_id", "seq"),
    ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("school", nullable=False),
    _id("platform", nullable=False),
    _id("run_id"),
    Column("stream", String(255), nullable=False),
    Column("scope", String(255), nullable=False),
    _id("entity", nullable=False),
    Column("record", String(255), nullable=False),
    Column("field", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload", JSONText),
    Column("at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Index("ix_quarantine_school", "school", "platform"),
)

#: Pages a pull read but has not applied: a page that would delete, change or leave unreadable
#: live records waits here until the whole pull is known to be within the change limits; over
#: them it is held for a person (``hold`` = the held run). A later read of the same scope
#: supersedes a staged page. ``effects`` counts per entity what the page would do.
staged_pages = Table(
    "staged_pages",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    _id("platform", nullable=False),
    _id("school", nullable=False),
    Column("stream", String(255), nullable=False),
    Column("scope", String(255), nullable=False),
    _id("run_id"),
    _id("hold"),
    Column("effects", JSONText, nullable=False),
    Column("page", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_staged_pages_scope", "platform", "school", "scope"),
)

#: What each pull changed in the snapshot, in order: the history the compliance rules read
#: (a mark changed long after its lesson). Inserts carry no data (the snapshot has it); updates
#: carry before/after, deletes the data before.
remote_changes = Table(
    "remote_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    _id("platform", nullable=False),
    _id("school", nullable=False),
    _id("entity", nullable=False),
    _id("record_id", nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    _id("run_id"),
    Column("before", Text),
    Column("after", Text),
    Index("ix_remote_changes_school", "school", "platform", "entity", "seq"),
)

#: What the compliance rules read of the snapshot: typed columns of the five frequent entities
#: (lessons, homework, marks, attendance, finals), the JSON of the others; a projection of
#: ``remote_records`` derived in SQL from the remote change log (``core/store/_facts.py``). One
#: school's rows of one entity are one range of the primary key (SQLite keeps the table in that
#: order: ``WITHOUT ROWID``), so a school's frame is read without parsing the frequent records'
#: JSON or visiting the wide snapshot rows. Times are UTC epoch seconds; ``deleted`` and
#: ``first_seen`` are the snapshot's.
remote_facts = Table(
    "remote_facts",
    metadata,
    _id("platform", nullable=False),
    _id("school", nullable=False),
    _id("entity", nullable=False),
    _id("id", nullable=False),
    _id("parent_id"),
    _id("student_id"),
    _id("subject_id"),
    _id("teacher_id"),
    Column("kind", String(64)),  # a mark's work type, an attendance code
    Column("value", String(32)),
    Column("weight", Float),
    Column("day", String(10)),
    Column("number", Integer),
    Column("shift", Integer),
    Column("end_time", String(16)),
    Column("has_topic", Integer),
    Column("created_at", BigInteger),
    Column("updated_at", BigInteger),
    Column("first_seen", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("data", Text),  # the JSON of the other entities (rosters, periods)
    PrimaryKeyConstraint("platform", "school", "entity", "id"),
    sqlite_with_rowid=False,
)

#: How far each school's facts follow its remote change log (``remote_changes.seq``).
facts_watermark = Table(
    "facts_watermark",
    metadata,
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("school", "platform"),
)

#: Connector state between runs (rotated tokens), encrypted at rest (core/secrets.py).
connector_state = Table(
    "connector_state",
    metadata,
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("state", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("school", "platform"),
)

#: The platforms' schema drift (``core/schema_drift.py``): each unknown, missing or retyped field
#: of a payload model a connector met, per school, with how often and when. Names only.
schema_drift = Table(
    "schema_drift",
    metadata,
    _id("platform", nullable=False),
    _id("school", nullable=False),
    Column("model", String(128), nullable=False),
    Column("field", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("platform", "school", "model", "field", "kind"),
)

#: What each alert channel was last told about each alert condition (``scheduler/alerts``): the
#: condition's key (kind:school:platform[:detail]), "firing" or "resolved", since when. A row is
#: claimed ("firing") before a channel is told and put back when telling it failed, so of two
#: checks at once only one sends, and a failed send is tried again at the next check.
alert_notices = Table(
    "alert_notices",
    metadata,
    _id("channel", nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("told", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("channel", "key"),
)

#: Family-account schools (one family per account): each account's last outcome, never a secret.
account_outcomes = Table(
    "account_outcomes",
    metadata,
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("login", String(255), nullable=False),
    #: ok, rejected (the platform refused the password or token), expired (a token ran out).
    Column("state", String(16), nullable=False),
    Column("pupils", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("first_used", UTCDateTime, nullable=False),
    Column("last_used", UTCDateTime, nullable=False),
    Column("last_ok", UTCDateTime),
    PrimaryKeyConstraint("school", "platform", "login"),
)

#: The pupils a family-account school's accounts have shown, and the pull that last read each:
#: a pupil the latest pull did not read is missing from it (coverage, ``core/sync``).
family_roster = Table(
    "family_roster",
    metadata,
    _id("school", nullable=False),
    _id("platform", nullable=False),
    Column("pupil_id", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("class_name", String(64), nullable=False),
    Column("first_read", UTCDateTime, nullable=False),
    Column("last_read", UTCDateTime, nullable=False),
    _id("last_run", nullable=False),
    PrimaryKeyConstraint("school", "platform", "pupil_id"),
)

#: Who is who on two bindings of one school (issue 15): per entity and source record, the target
#: record it matched (``core.migrate``), by which rule, and the operator who decided, if one did.
identity_matches = Table(
    "identity_matches",
    metadata,
    _id("school", nullable=False),
    _id("source_platform", nullable=False),
    _id("target_platform", nullable=False),
    Column("entity", String(32), nullable=False),
    _id("source_id", nullable=False),
    _id("target_id"),
    Column("rule", String(32), nullable=False),
    Column("confidence", Float, nullable=False),
    #: matched, ambiguous, unmatched, rejected.
    Column("state", String(16), nullable=False),
    #: The target ids offered when ambiguous (a JSON list).
    Column("candidates", JSONText, nullable=False),
    Column("decided_by", String(255), nullable=False),
    Column("decided_at", UTCDateTime),
    PrimaryKeyConstraint("school", "source_platform", "target_platform", "entity", "source_id"),
)
