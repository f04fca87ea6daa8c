"""Drift: local records against the remote snapshot, and the findings' lifecycle (DESIGN.md §4).

The diff is one SQL statement, streamed: the database compares 32-character content hashes over
its covering indexes and only the differing rows (typically ~1 %) ever reach Python, so a
million-record journal is compared in about a second and in bounded memory.

A finding's id is a hash of what it is about (school, platform, entity, record, kind), so the
same drift seen by the next run updates the same finding instead of piling up new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from hashlib import blake2b
from typing import Any, Literal

import orjson
from sqlalchemy import (
    CompoundSelect,
    Connection,
    Row,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy import false as sql_false
from sqlalchemy.sql import Select

from core.store._base import StoreBase, stream, utcnow
from core.store._drift_view import DriftRow, describe
from core.store._schema import drift_findings, local_records, remote_records
from core.store._types import (
    FINDING_STATUSES,
    DiffKind,
    DiffRow,
    FieldDiff,
    Finding,
    FindingCounts,
    NewFinding,
)

__all__ = ["DriftStore", "diff_statement", "finding_id"]

_f = drift_findings.c
#: Differing ids per server-side fetch, and per data look-up (an IN list of this size).
_DIFF_BATCH = 500


def finding_id(school: str, platform: str, entity: str, record_id: str, kind: str) -> str:
    key = "\x1f".join((school, platform, entity, record_id, kind)).encode()
    return blake2b(key, digest_size=16).hexdigest()


def diff_statement(school: str, platform: str) -> CompoundSelect[Any]:
    """The drift query, narrow: (entity, record_id, kind) per difference.

    Every column it reads is in ``ix_local_records_drift`` / ``ix_remote_records_drift``, so
    the database walks two covering indexes and never touches the wide rows; the records' data
    of the few differing rows is fetched afterwards by id (see :meth:`DriftStore.diff`).
    """
    lo = local_records.alias("lo")
    re_ = remote_records.alias("re")

    # Local side: a live local record with no live remote twin, or with a different hash.
    local_side = (
        select(
            lo.c.entity,
            lo.c.id.label("record_id"),
            case(
                (re_.c.id.is_(None), literal("missing_on_platform")), else_=literal("mismatch")
            ).label("kind"),
        )
        .select_from(
            lo.outerjoin(
                re_,
                and_(
                    re_.c.platform == platform,
                    re_.c.school == school,
                    re_.c.deleted == sql_false(),
                    re_.c.id == lo.c.id,
                ),
            )
        )
        .where(
            lo.c.school == school,
            lo.c.deleted == sql_false(),
            or_(re_.c.id.is_(None), re_.c.content_hash != lo.c.content_hash),
        )
    )

    # Remote side: live remote records with no live local twin...
    r2 = remote_records.alias("r2")
    l2 = local_records.alias("l2")
    orphans = (
        select(r2.c.entity, r2.c.id, r2.c.parent_id)
        .select_from(
            r2.outerjoin(
                l2, and_(l2.c.school == school, l2.c.deleted == sql_false(), l2.c.id == r2.c.id)
            )
        )
        .where(
            r2.c.platform == platform,
            r2.c.school == school,
            r2.c.deleted == sql_false(),
            l2.c.id.is_(None),
        )
        # OFFSET 0 is a planner fence on both databases: the scope test below must run on the
        # few orphans only, not be pushed down onto every remote record.
        .offset(literal_column("0"))
        .subquery("orphans")
    )
    # ...that count as extra only where the school keeps local records of that entity under the
    # same parent (or, for parentless entities, any local record of that entity).
    lp = local_records.alias("lp")
    same_entity = and_(
        lp.c.school == school, lp.c.entity == orphans.c.entity, lp.c.deleted == sql_false()
    )
    scoped = or_(
        and_(
            orphans.c.parent_id.is_not(None),
            exists().where(same_entity, lp.c.parent_id == orphans.c.parent_id),
        ),
        and_(orphans.c.parent_id.is_(None), exists().where(same_entity)),
    )
    remote_side = select(
        orphans.c.entity,
        orphans.c.id.label("record_id"),
        literal("extra_on_platform").label("kind"),
    ).where(scoped)
    return local_side.union_all(remote_side)


def diff_statement_full_join(school: str, platform: str) -> Select[Any]:
    """The same narrow drift query as one ``FULL JOIN`` of the two live sides.

    PostgreSQL answers it with a single hash full join, about half the work of the two
    anti-joins of :func:`diff_statement`; SQLite (which emulates ``FULL JOIN``) is faster with
    the two index-driven halves.
    """
    lo = local_records.alias("lo")
    re_ = remote_records.alias("re")
    loc = (
        select(lo.c.id, lo.c.content_hash, lo.c.entity)
        .where(lo.c.school == school, lo.c.deleted == sql_false())
        .subquery("loc")
    )
    rem = (
        select(re_.c.id, re_.c.content_hash, re_.c.entity, re_.c.parent_id)
        .where(re_.c.platform == platform, re_.c.school == school, re_.c.deleted == sql_false())
        .subquery("rem")
    )
    lp = local_records.alias("lp")
    same_entity = and_(
        lp.c.school == school, lp.c.entity == rem.c.entity, lp.c.deleted == sql_false()
    )
    scoped = or_(
        and_(
            rem.c.parent_id.is_not(None),
            exists().where(same_entity, lp.c.parent_id == rem.c.parent_id),
        ),
        and_(rem.c.parent_id.is_(None), exists().where(same_entity)),
    )
    return (
        select(
            func.coalesce(loc.c.entity, rem.c.entity).label("entity"),
            func.coalesce(loc.c.id, rem.c.id).label("record_id"),
            case(
                (rem.c.id.is_(None), literal("missing_on_platform")),
                (loc.c.id.is_(None), literal("extra_on_platform")),
                else_=literal("mismatch"),
            ).label("kind"),
        )
        .select_from(loc.outerjoin(rem, loc.c.id == rem.c.id, full=True))
        .where(
            or_(
                rem.c.id.is_(None),
                and_(loc.c.id.is_not(None), loc.c.content_hash != rem.c.content_hash),
                and_(loc.c.id.is_(None), scoped),
            )
        )
    )


class DriftStore(StoreBase):
    def diff(self, school: str, platform: str) -> Iterator[DiffRow]:
        """Stream the differences between the school's local records and the snapshot.

        Two steps on one connection (one snapshot): the narrow query streams the differing ids
        through a server-side cursor, and each batch of them gets its data by primary key.
        """
        with self._read() as conn:
            if self.dialect == "postgresql":
                # The whole result is wanted: plan for it (hash joins), not for the first 10 %;
                # JIT compiling costs more than it saves on this query.
                conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
                conn.exec_driver_sql("SET LOCAL jit = off")
                conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
                stmt: Select[Any] | CompoundSelect[Any] = diff_statement_full_join(school, platform)
            else:
                stmt = diff_statement(school, platform)
            # Closing the result first matters when the caller stops early: a server-side
            # cursor must go before its transaction does.
            with conn.execute(stmt, execution_options=stream(_DIFF_BATCH)) as result:
                for batch in result.partitions():
                    yield from self._with_data(conn, platform, batch)

    @staticmethod
    def _with_data(conn: Connection, platform: str, batch: Sequence[Row[Any]]) -> Iterator[DiffRow]:
        want_local = [r.record_id for r in batch if r.kind != "extra_on_platform"]
        want_remote = [r.record_id for r in batch if r.kind != "missing_on_platform"]
        local: dict[str, str] = {}
        remote: dict[str, str] = {}
        if want_local:
            rows = conn.execute(
                select(local_records.c.id, local_records.c.data).where(
                    local_records.c.id.in_(want_local)
                )
            )
            local = {rid: data for rid, data in rows}
        if want_remote:
            rr = remote_records.c
            rows = conn.execute(
                select(rr.id, rr.data).where(rr.platform == platform, rr.id.in_(want_remote))
            )
            remote = {rid: data for rid, data in rows}
        for entity, rid, kind in batch:
            ldata = local.get(rid) if kind != "extra_on_platform" else None
            rdata = remote.get(rid) if kind != "missing_on_platform" else None
            yield DiffRow(
                entity=entity,
                record_id=rid,
                kind=_kind(kind),
                local=orjson.loads(ldata) if ldata is not None else None,
                remote=orjson.loads(rdata) if rdata is not None else None,
            )

    def record_findings(
        self,
        school: str,
        platform: str,
        findings: Iterable[NewFinding],
        *,
        run_id: str | None,
    ) -> FindingCounts:
        """Apply one complete drift result to the findings of (school, platform).

        Present → open (new, or updated; a resolved one reopens; an accepted one stays accepted
        while its fields are unchanged, else reopens). Open findings absent from this call are
        resolved with the note "no longer seen". Accepted ones absent are left alone.
        """
        now = utcnow()
        with self._write() as conn:
            existing = {
                fid: (status, fields)
                for fid, status, fields in conn.execute(
                    select(_f.id, _f.status, _f.fields).where(
                        _f.school == school, _f.platform == platform
                    )
                )
            }
            new_rows: list[dict[str, Any]] = []
            upd_rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            opened = reopened = kept = 0
            for nf in findings:
                fid = finding_id(school, platform, nf.entity, nf.record_id, nf.kind)
                if fid in seen:
                    continue
                seen.add(fid)
                fields = [
                    {"field": d.field, "local": d.local, "remote": d.remote} for d in nf.fields
                ]
                prev = existing.get(fid)
                if prev is None:
                    opened += 1
                    new_rows.append(
                        {
                            "id": fid,
                            "school": school,
                            "platform": platform,
                            "entity": nf.entity,
                            "record_id": nf.record_id,
                            "kind": nf.kind,
                            "fields": fields,
                            "status": "open",
                            "first_seen": now,
                            "last_seen": now,
                            "resolved_at": None,
                            "note": "",
                            "run_id": run_id,
                        }
                    )
                    continue
                status, note = prev[0], None
                if status == "resolved" or (
                    status == "accepted" and _canon(prev[1]) != _canon(fields)
                ):
                    status, note = "open", ""
                    reopened += 1
                else:
                    kept += 1
                upd_rows.append({"fid": fid, "fields": fields, "status": status, "note": note})
            if new_rows:
                conn.execute(drift_findings.insert(), new_rows)
            if upd_rows:
                self._update_seen(conn, upd_rows, now, run_id)
            gone = [
                fid for fid, (status, _) in existing.items() if status == "open" and fid not in seen
            ]
            if gone:
                conn.execute(
                    drift_findings.update()
                    .where(_f.id == bindparam("fid"))
                    .values(
                        status="resolved", resolved_at=now, note="no longer seen", run_id=run_id
                    ),
                    [{"fid": fid} for fid in gone],
                )
        return FindingCounts(opened=opened, reopened=reopened, still_open=kept, resolved=len(gone))

    @staticmethod
    def _update_seen(
        conn: Connection, rows: list[dict[str, Any]], now: Any, run_id: str | None
    ) -> None:
        reopen = [r for r in rows if r["note"] is not None]
        keep = [r for r in rows if r["note"] is None]
        stmt = drift_findings.update().where(_f.id == bindparam("fid"))
        if keep:
            conn.execute(
                stmt.values(fields=bindparam("fields"), last_seen=now, run_id=run_id),
                [{"fid": r["fid"], "fields": r["fields"]} for r in keep],
            )
        if reopen:
            conn.execute(
                stmt.values(
                    fields=bindparam("fields"),
                    status="open",
                    resolved_at=None,
                    note="",
                    last_seen=now,
                    run_id=run_id,
                ),
                [{"fid": r["fid"], "fields": r["fields"]} for r in reopen],
            )

    def findings(
        self, school: str, platform: str | None = None, status: str | None = None
    ) -> list[Finding]:
        stmt = select(drift_findings).where(_f.school == school)
        if platform is not None:
            stmt = stmt.where(_f.platform == platform)
        if status is not None:
            stmt = stmt.where(_f.status == status)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(_f.platform, _f.entity, _f.record_id, _f.kind))
            return [
                Finding(
                    id=row.id,
                    school=row.school,
                    platform=row.platform,
                    entity=row.entity,
                    record_id=row.record_id,
                    kind=row.kind,
                    fields=tuple(FieldDiff(**d) for d in row.fields),
                    status=row.status,
                    first_seen=row.first_seen,
                    last_seen=row.last_seen,
                    resolved_at=row.resolved_at,
                    note=row.note,
                    run_id=row.run_id,
                )
                for row in rows
            ]

    def describe_findings(
        self, school: str, platform: str, findings: Sequence[Finding]
    ) -> list[DriftRow]:
        """``findings`` as people read them: pupil, class, subject, lesson date and number, and
        each differing field local → platform in words (ids resolved through the school's
        local records and the platform's snapshot)."""
        with self._read() as conn:
            return describe(conn, school, platform, findings)

    def set_finding_status(
        self,
        finding_id: str,
        status: Literal["accepted", "resolved", "open"],
        *,
        note: str = "",
    ) -> None:
        """A person's decision on a finding; raises ``KeyError`` for an unknown id."""
        if status not in FINDING_STATUSES:
            raise ValueError(f"unknown finding status {status!r}")
        now = utcnow()
        with self._write() as conn:
            res = conn.execute(
                drift_findings.update()
                .where(_f.id == finding_id)
                .values(status=status, note=note, resolved_at=now if status == "resolved" else None)
            )
            if res.rowcount == 0:
                raise KeyError(finding_id)


def _canon(fields: Any) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


_KINDS: dict[str, DiffKind] = {
    "missing_on_platform": "missing_on_platform",
    "extra_on_platform": "extra_on_platform",
    "mismatch": "mismatch",
}


def _kind(value: str) -> DiffKind:
    return _KINDS[value]
