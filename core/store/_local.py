"""The school's own journal: local records and their append-only change log (DESIGN.md §4).

Every insert, change and delete writes one ``local_changes`` row in the same transaction as the
record itself, with the whole record before and after: the log answers "who changed this mark,
when, from what" without reconstructing anything. Unchanged records are skipped and not logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select, update

from core.connector import Quarantined
from core.model import Record, record_from_data
from core.store._base import (
    BulkStatement,
    StoreBase,
    chunked,
    db_bool,
    db_datetime,
    in_chunks,
    stream,
    upsert,
    utcnow,
)
from core.store._schema import local_changes, local_records, quarantine
from core.store._types import ChangeLogEntry, LocalCounts

__all__ = ["LocalStore"]

_l = local_records.c

#: Existing rows of a batch of ids (compiled once; the batch is an expanding parameter).
_EXISTING = select(_l.id, _l.content_hash, _l.deleted, _l.data, _l.school).where(
    _l.id.in_(bindparam("ids", expanding=True))
)


def _upsert_statement(dialect: str) -> BulkStatement:
    ins = upsert(local_records, dialect)
    kept = ("school", "entity", "parent_id", "content_hash", "data", "deleted", "updated_at")
    return BulkStatement(
        ins.on_conflict_do_update(index_elements=[_l.id], set_={k: ins.excluded[k] for k in kept})
    )


#: Plain DBAPI executemany for the two bulk writes: SQLAlchemy's per-row parameter processing
#: cost more than SQLite's own work (a 200,000-row import spent 38 of its 100 profiled seconds
#: in it).
_UPSERT = {d: _upsert_statement(d) for d in ("sqlite", "postgresql")}
_LOG = BulkStatement(local_changes.insert())


class LocalStore(StoreBase):
    def upsert_local(
        self, school: str, records: Iterable[Record], *, actor: str, reason: str = ""
    ) -> LocalCounts:
        """Insert or update local records in one transaction, logging each real change."""
        inserted = updated = unchanged = 0
        with self._write() as conn:
            for batch in chunked(records):
                i, u, n = self._upsert_batch(conn, school, batch, actor, reason)
                inserted, updated, unchanged = inserted + i, updated + u, unchanged + n
        return LocalCounts(inserted, updated, unchanged)

    def import_local(
        self,
        school: str,
        records: Iterable[Record],
        rejected: Sequence[Quarantined],
        *,
        stream: str,
        actor: str,
        reason: str = "",
    ) -> tuple[LocalCounts, int]:
        """Local records, their change log and the rows that could not be taken, in one
        transaction: a crash leaves all of it or none of it.

        The rejected rows are quarantined under platform ``local`` and ``stream``, keyed by
        ``(stream, record)``: one already there is skipped, so importing the same source again
        adds nothing (and keeps the status an operator gave the row). Returns the record counts
        and how many quarantine rows were added.
        """
        inserted = updated = unchanged = 0
        with self._write() as conn:
            for batch in chunked(records):
                i, u, n = self._upsert_batch(conn, school, batch, actor, reason)
                inserted, updated, unchanged = inserted + i, updated + u, unchanged + n
            added = _quarantine_once(conn, school, rejected, stream)
        return LocalCounts(inserted, updated, unchanged), added

    def _upsert_batch(
        self, conn: Connection, school: str, batch: list[Record], actor: str, reason: str
    ) -> tuple[int, int, int]:
        records = {r.id: r for r in batch}
        old: dict[str, tuple[str, bool, str, str]] = {
            row[0]: (row[1], bool(row[2]), row[3], row[4])
            for row in conn.execute(_EXISTING, {"ids": list(records)})
        }
        dialect = conn.dialect.name
        now = db_datetime(utcnow(), dialect)
        live = db_bool(False, dialect)
        rows: list[dict[str, Any]] = []
        log: list[dict[str, Any]] = []
        inserted = updated = 0
        for rid, rec in records.items():
            prev = old.get(rid)
            if (
                prev is not None
                and prev[0] == rec.content_hash
                and not prev[1]
                and prev[3] == school
            ):
                continue
            # A deleted record coming back is an insert as far as the journal is concerned.
            before = prev[2] if prev is not None and not prev[1] else None
            if before is None:
                inserted += 1
            else:
                updated += 1
            after = rec.content_json.decode()
            rows.append(
                {
                    "school": school,
                    "entity": rec.ENTITY,
                    "id": rid,
                    "parent_id": rec.parent_id,
                    "content_hash": rec.content_hash,
                    "data": after,
                    "deleted": live,
                    "updated_at": now,
                }
            )
            log.append(_log_row(school, rec.ENTITY, rid, now, actor, reason, before, after))
        if rows:
            _UPSERT[dialect].execute(conn, rows)
            _LOG.execute(conn, log)
        return inserted, updated, len(records) - inserted - updated

    def delete_local(self, school: str, ids: Iterable[str], *, actor: str, reason: str = "") -> int:
        """Mark live local records deleted (kept as tombstones for the drift query and the log)."""
        wanted = sorted(set(ids))
        now = utcnow()
        count = 0
        stmt = (
            update(local_records)
            .where(_l.id == bindparam("rid"))
            .values(deleted=True, updated_at=bindparam("now"))
        )
        with self._write() as conn:
            for chunk in in_chunks(wanted):
                live = conn.execute(
                    select(_l.id, _l.entity, _l.data).where(
                        _l.school == school,
                        _l.id.in_(chunk),
                        _l.deleted == False,  # noqa: E712 — SQL, not Python
                    )
                ).all()
                if not live:
                    continue
                conn.execute(stmt, [{"rid": rid, "now": now} for rid, _, _ in live])
                conn.execute(
                    local_changes.insert(),
                    [
                        _log_row(school, ent, rid, now, actor, reason, data, None)
                        for rid, ent, data in live
                    ],
                )
                count += len(live)
        return count

    def local_records(self, school: str, entity: str | None = None) -> Iterator[Record]:
        """Live local records, streamed in id order."""
        stmt = select(_l.entity, _l.data).where(_l.school == school, _l.deleted == False)  # noqa: E712
        if entity is not None:
            stmt = stmt.where(_l.entity == entity)
        with (
            self._read() as conn,
            conn.execute(stmt.order_by(_l.id), execution_options=stream(1000)) as result,
        ):
            for ent, data in result:
                yield record_from_data(ent, orjson.loads(data))

    def change_log(
        self, school: str, record_id: str | None = None, *, reason_prefix: str | None = None
    ) -> list[ChangeLogEntry]:
        """The school's local changes in order; of one record, or those whose reason starts with
        ``reason_prefix`` (the entries an offline journal brought)."""
        c = local_changes.c
        stmt = select(local_changes).where(c.school == school)
        if record_id is not None:
            stmt = stmt.where(c.record_id == record_id)
        if reason_prefix is not None:
            stmt = stmt.where(c.reason.startswith(reason_prefix, autoescape=True))
        with self._read() as conn:
            return [
                ChangeLogEntry(
                    seq=row.seq,
                    school=row.school,
                    entity=row.entity,
                    record_id=row.record_id,
                    at=row.at,
                    actor=row.actor,
                    reason=row.reason,
                    before=orjson.loads(row.before) if row.before is not None else None,
                    after=orjson.loads(row.after) if row.after is not None else None,
                )
                for row in conn.execute(stmt.order_by(c.seq))
            ]


def _quarantine_once(
    conn: Connection, school: str, items: Sequence[Quarantined], stream_name: str
) -> int:
    if not items:
        return 0
    q = quarantine.c
    known = set(
        conn.execute(
            select(q.record).where(
                q.school == school, q.platform == "local", q.stream == stream_name
            )
        ).scalars()
    )
    now = utcnow()
    rows = [
        {
            "school": school,
            "platform": "local",
            "run_id": None,
            "stream": stream_name,
            "scope": stream_name,
            "entity": item.entity,
            "record": item.record,
            "field": item.field,
            "reason": item.reason,
            "payload": item.payload,
            "at": now,
            "status": "open",
        }
        for item in items
        if item.record not in known
    ]
    for chunk in chunked(rows):
        conn.execute(quarantine.insert(), chunk)
    return len(rows)


def _log_row(
    school: str,
    entity: str,
    record_id: str,
    at: Any,
    actor: str,
    reason: str,
    before: str | None,
    after: str | None,
) -> dict[str, Any]:
    return {
        "school": school,
        "entity": entity,
        "record_id": record_id,
        "at": at,
        "actor": actor,
        "reason": reason,
        "before": before,
        "after": after,
    }
