"""The remote snapshot: what the last pull of each platform saw, page by page.

A page is committed in one transaction together with its cursor and its quarantined records
(DESIGN.md §4), so a crash between pages neither loses nor duplicates anything. Unchanged
records are not written at all: the page's ids are looked up first and only new or changed rows
go into the batched upsert, whose ``WHERE`` repeats the check in case a concurrent writer got in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Select,
    String,
    TextClause,
    and_,
    bindparam,
    column,
    delete,
    false,
    func,
    or_,
    select,
    text,
    true,
    update,
)

from core.connector import Page, Quarantined
from core.model import Record, record_from_data
from core.store._base import (
    BulkStatement,
    StoreBase,
    db_bool,
    db_datetime,
    in_chunks,
    stream,
    upsert,
    utcnow,
)
from core.store._facts import backfill as backfill_facts
from core.store._facts import refresh as refresh_facts
from core.store._schema import cursors, quarantine, remote_changes, remote_facts, remote_records
from core.store._staging import PagePlan, stage_page, supersede_staged
from core.store._types import PageCounts, QuarantineRow, RemoteChange

__all__ = ["RemoteStore"]

_r = remote_records.c


#: The live records of one scope (scope replacement), built once: a pull runs it per page.
#: Its entities are picked in Python: an expanding ``IN`` would be compiled afresh per page.
_LIVE = select(_r.id, _r.entity, _r.stale).where(
    _r.platform == bindparam("platform"),
    _r.school == bindparam("school"),
    _r.scope == bindparam("scope"),
    _r.deleted == false(),
)


def _existing_statement(dialect: str) -> Select[Any]:
    """The stored rows of a page's ids, given as one JSON array (SQLite) or one array
    (PostgreSQL) bound as ``ids``: a statement per page, without SQLAlchemy expanding an
    ``IN`` list of hundreds of parameters per chunk."""
    page_ids: ColumnElement[bool]
    if dialect == "sqlite":
        page_ids = _r.id.in_(select(column("value")).select_from(func.json_each(bindparam("ids"))))
    else:
        page_ids = _r.id == func.any(bindparam("ids", type_=ARRAY(String)))
    return select(
        _r.id, _r.content_hash, _r.deleted, _r.scope, _r.school, _r.stale, _r.provenance
    ).where(_r.platform == bindparam("platform"), page_ids)


_EXISTING = {d: _existing_statement(d) for d in ("sqlite", "postgresql")}


def _provenance_key(text: str | bytes | None) -> bytes | None:
    """A record's provenance as the snapshot compares it: without when it was fetched (the
    content digest's view, :mod:`core.store._digest`)."""
    if text is None:
        return None
    value = orjson.loads(text)
    value.pop("fetched_at", None)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _upsert_statement(dialect: str) -> BulkStatement:
    """New or changed rows of a page; the WHERE repeats the check for a concurrent writer."""
    ins = upsert(remote_records, dialect)
    exc = ins.excluded
    kept = ("school", "entity", "scope", "parent_id", "content_hash", "data", "provenance")
    return BulkStatement(
        ins.on_conflict_do_update(
            index_elements=[_r.platform, _r.id],
            set_={k: exc[k] for k in (*kept, "deleted", "stale", "last_seen", "run_id")},
            where=or_(
                _r.content_hash != exc.content_hash,
                _r.deleted == true(),
                _r.stale == true(),
                _r.scope != exc.scope,
                _r.school != exc.school,
                # only rows the plan found with other platform ids or times get here unchanged
                _r.provenance.is_distinct_from(exc.provenance),
            ),
        )
    )


_UPSERT = {d: _upsert_statement(d) for d in ("sqlite", "postgresql")}


def _log_statement(dialect: str) -> TextClause:
    """The change log's rows of a page, all given as one JSON array bound as ``rows`` (each row
    ``[entity, id, kind, before, after]``, the last two may be left off): the database takes
    it apart in order. One statement per page instead of nine bound values per change halves
    the change log's cost on SQLite."""
    if dialect == "sqlite":
        rows, order = "json_each(:rows) AS j", ""
    else:
        rows = "jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS j(value, n)"
        order = " ORDER BY j.n"
    return text(
        "INSERT INTO remote_changes"
        " (platform, school, entity, record_id, at, kind, run_id, before, after)"
        " SELECT CAST(:platform AS TEXT), CAST(:school AS TEXT), j.value->>0, j.value->>1,"
        " :at, j.value->>2, CAST(:run_id AS TEXT), j.value->>3, j.value->>4"
        f" FROM {rows}{order}"
    )


_LOG_CHANGE = {d: _log_statement(d) for d in ("sqlite", "postgresql")}


class RemoteStore(StoreBase):
    def commit_page(
        self, school: str, platform: str, page: Page, *, run_id: str | None = None
    ) -> PageCounts:
        """Write one page, its scope replacement, its quarantine and its cursor atomically."""
        return self.commit_pages(school, platform, [page], run_id=run_id)[0]

    def commit_pages(
        self,
        school: str,
        platform: str,
        pages: Sequence[Page],
        *,
        run_id: str | None = None,
        stage: bool = False,
        supersede: bool = False,
    ) -> list[PageCounts]:
        """Write several pages, in order, in one transaction: all of them or none.

        Each page is applied exactly as :meth:`commit_page` would (its cursor after its data),
        so the cursors stay consistent with the data. One transaction for many small pages
        spares SQLite a WAL write of the same index pages per page (random ids touch many).

        ``stage``: a page that would delete, change, leave unreadable (stale) or move live
        records out of another scope is not applied but kept in ``staged_pages`` with what it
        would do, for the pull to weigh against its limits when it ends
        (:meth:`StagedStore.settle_staged`); its cursor still advances, so a crash neither
        re-reads nor loses it. ``supersede``: drop the staged pages of each page's scope first
        (this read is newer; pass it when any are staged).
        """
        out: list[PageCounts] = []
        last_cursor: dict[str, dict[str, Any]] = {}  # one transaction: only the last one shows
        with self._write() as conn:
            for page in pages:
                if supersede:
                    supersede_staged(conn, school, platform, page.scope)
                plan = self._plan_page(conn, school, platform, page)
                if stage and plan.destructive:
                    stage_page(conn, school, platform, plan, run_id)
                    out.append(PageCounts(0, 0, 0, 0, 0))  # counted when it is applied
                else:
                    out.append(self._apply_plan(conn, school, platform, plan, run_id))
                last_cursor[page.stream] = page.cursor
            for stream_name, value in last_cursor.items():
                self._set_cursor(conn, school, platform, stream_name, value)
        if self.dialect == "postgresql":
            self._analyze_if_outgrown(sum(c.inserted for c in out))
        return out

    def _plan_page(self, conn: Connection, school: str, platform: str, page: Page) -> PagePlan:
        """What applying ``page`` would do to the snapshot, read before anything is written.

        What the page's scope loses is read before the upsert: it reads only the scope's
        earlier records (none on a first pull), not the page written back. A lost record of an
        entity the page quarantined something of is not deleted but kept, marked stale: the
        platform may still list it and the connector failed to read it (a renamed field, a bad
        value), so its last good version is the best the store knows.
        """
        # The last occurrence of an id in a page wins (a platform listing a record twice).
        records: dict[str, Record] = {r.id: r for r in page.records}
        existing: dict[str, tuple[str, bool, str, str, bool]] = {}
        provenance: dict[str, str | None] = {}
        ids: Any = list(records)
        if self.dialect == "sqlite":
            ids = orjson.dumps(ids).decode()
        for row in conn.execute(_EXISTING[self.dialect], {"platform": platform, "ids": ids}):
            existing[row[0]] = (row[1], bool(row[2]), row[3], row[4], bool(row[5]))
            provenance[row[0]] = row[6]
        plan = PagePlan(page=page, records=records, existing=existing)
        # A record read again unchanged but with other platform ids or times (an id the last
        # read lacked, a re-created assignment) is rewritten for them, as no content change.
        for rid, stored in provenance.items():
            rec = records[rid]
            new = rec.provenance.to_json() if rec.provenance is not None else None
            if _provenance_key(stored) != _provenance_key(new):
                plan.provenance.add(rid)
        unreadable = {q.entity for q in page.quarantine}
        for rid, entity, stale in self._lost_from_scope(conn, school, platform, page):
            if entity not in unreadable:
                plan.gone[rid] = entity
            elif not stale:
                plan.stale[rid] = entity
        for rid, rec in records.items():
            old = existing.get(rid)
            if old is None or old[1]:
                continue
            if old[0] != rec.content_hash:
                plan.updates[rec.ENTITY] += 1
            elif old[2] != page.scope or old[3] != school:
                plan.moves[rec.ENTITY] += 1
        return plan

    def _apply_plan(
        self, conn: Connection, school: str, platform: str, plan: PagePlan, run_id: str | None
    ) -> PageCounts:
        page = plan.page
        inserted, updated, unchanged = self._upsert_remote(conn, school, platform, plan, run_id)
        deleted = self._mark_deleted(conn, school, platform, plan.gone, run_id)
        stale = self._mark_stale(conn, platform, list(plan.stale), run_id)
        quarantined = _insert_quarantine(
            conn, school, platform, page.quarantine, page.stream, page.scope, run_id
        )
        return PageCounts(inserted, updated, unchanged, deleted, quarantined, stale)

    def _analyze_if_outgrown(self, inserted: int) -> None:
        """``ANALYZE`` the snapshot when one commit added more rows than its statistics know.

        PostgreSQL plans a page's id lookups from the table statistics. A new store has none
        until autovacuum's next round (up to a minute), and PostgreSQL then scans the whole
        platform's rows for every page: a first 53,045-record pull took 8.1 s wall without this
        and 5.2 s with it. The check is one catalogue read per commit; ANALYZE samples at most
        30,000 rows, and runs only when one commit adds more rows than the statistics count.
        """
        if not inserted:
            return
        with self._write() as conn:
            known = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'remote_records'::regclass")
            ).scalar()
            if known is None or inserted > known:
                conn.execute(text("ANALYZE remote_records"))

    def _upsert_remote(
        self, conn: Connection, school: str, platform: str, plan: PagePlan, run_id: str | None
    ) -> tuple[int, int, int]:
        page, records, existing = plan.page, plan.records, plan.existing
        now = db_datetime(utcnow(), self.dialect)
        live = db_bool(False, self.dialect)
        rows_out: list[tuple[Any, ...]] = []
        inserted = updated = 0
        changes: list[tuple[str, str, str]] = []  # (id, entity, kind) of content changes
        for rid, rec in records.items():
            old = existing.get(rid)
            if old is not None and old == (rec.content_hash, False, page.scope, school, False):
                if rid in plan.provenance:  # rewritten for its platform ids, not a change
                    rows_out.append(_row(platform, school, page.scope, rec, now, live, run_id))
                continue
            if old is None:
                inserted += 1
                changes.append((rid, rec.ENTITY, "inserted"))
            else:
                updated += 1
                if old[1]:
                    changes.append((rid, rec.ENTITY, "inserted"))  # came back after a delete
                elif old[0] != rec.content_hash:
                    changes.append((rid, rec.ENTITY, "updated"))
            rows_out.append(_row(platform, school, page.scope, rec, now, live, run_id))
        if rows_out:
            before = self._data_of(conn, platform, [c[0] for c in changes if c[2] == "updated"])
            _UPSERT[self.dialect].execute_tuples(conn, _ROW_COLUMNS, rows_out)
            self._log_changes(
                conn,
                school,
                platform,
                run_id,
                [
                    (rid, entity, kind, before.get(rid), records[rid].content_json.decode())
                    if kind == "updated"
                    else (rid, entity, kind, None, None)
                    for rid, entity, kind in changes
                ],
            )
        return inserted, updated, len(records) - inserted - updated

    @staticmethod
    def _data_of(conn: Connection, platform: str, ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in in_chunks(ids):
            rows = conn.execute(
                select(_r.id, _r.data).where(_r.platform == platform, _r.id.in_(chunk))
            )
            out.update((row[0], row[1]) for row in rows)
        return out

    @staticmethod
    def _log_changes(
        conn: Connection,
        school: str,
        platform: str,
        run_id: str | None,
        changes: list[tuple[str, str, str, str | None, str | None]],
    ) -> None:
        if not changes:
            return
        dialect = conn.dialect.name
        rows = orjson.dumps(
            [
                [entity, rid, kind]
                if before is None and after is None
                else [entity, rid, kind, before, after]
                for rid, entity, kind, before, after in changes
            ]
        ).decode()
        conn.execute(
            _LOG_CHANGE[dialect],
            {
                "platform": platform,
                "school": school,
                "at": db_datetime(utcnow(), dialect),
                "run_id": run_id,
                "rows": rows,
            },
        )

    @staticmethod
    def _lost_from_scope(
        conn: Connection, school: str, platform: str, page: Page
    ) -> list[tuple[str, str, bool]]:
        """Scope replacement: the live records of the page's scope the page no longer lists
        (id, entity, stale), for the entities the page is complete for."""
        if not page.complete_for:
            return []
        live = conn.execute(
            _LIVE, {"platform": platform, "school": school, "scope": page.scope}
        ).all()
        if not live:
            return []
        present = {r.id for r in page.records}
        complete = page.complete_for
        lost = [
            (rid, entity, bool(stale))
            for rid, entity, stale in live
            if entity in complete and rid not in present
        ]
        if page.visible_members is None or not lost:
            return lost
        hidden = _out_of_sight(conn, platform, page, [(rid, e) for rid, e, _ in lost])
        return [x for x in lost if x[0] not in hidden]

    def _mark_deleted(
        self,
        conn: Connection,
        school: str,
        platform: str,
        gone_entities: dict[str, str],
        run_id: str | None,
    ) -> int:
        gone = list(gone_entities)
        if not gone:
            return 0
        before = self._data_of(conn, platform, gone)
        self._log_changes(
            conn,
            school,
            platform,
            run_id,
            [(rid, gone_entities[rid], "deleted", before.get(rid), None) for rid in gone],
        )
        stmt = (
            update(remote_records)
            .where(_r.platform == platform, _r.id.in_(bindparam("ids", expanding=True)))
            .values(deleted=True, last_seen=utcnow(), run_id=run_id)
        )
        for ids in in_chunks(gone):
            conn.execute(stmt, {"ids": list(ids)})
        return len(gone)

    @staticmethod
    def _mark_stale(conn: Connection, platform: str, ids: list[str], run_id: str | None) -> int:
        """Keep these live records, flagged stale (the page could not read them again)."""
        if not ids:
            return 0
        stmt = (
            update(remote_records)
            .where(_r.platform == platform, _r.id.in_(bindparam("ids", expanding=True)))
            .values(stale=True, last_seen=utcnow(), run_id=run_id)
        )
        for chunk in in_chunks(ids):
            conn.execute(stmt, {"ids": list(chunk)})
        return len(ids)

    def add_quarantine(
        self,
        school: str,
        platform: str,
        items: Sequence[Quarantined],
        *,
        stream: str,
        run_id: str | None = None,
    ) -> int:
        """Quarantine records that came from elsewhere than a pull (e.g. a CSV import)."""
        with self._write() as conn:
            return _insert_quarantine(conn, school, platform, items, stream, stream, run_id)

    def refresh_facts(self, school: str, platform: str) -> int:
        """Bring the school's ``remote_facts`` up to its change log (records re-derived)."""
        with self._write() as conn:
            return refresh_facts(conn, school, platform)

    def backfill_facts(self) -> int:
        """Derive all facts afresh, for rows written around the change log (bulk loaders)."""
        with self._write() as conn:
            conn.execute(delete(remote_facts))
            return backfill_facts(conn)

    def remote_changes(
        self, school: str, platform: str, entity: str | None = None
    ) -> Iterator[RemoteChange]:
        """What the pulls changed in the snapshot, oldest first (see the table's docstring)."""
        c = remote_changes.c
        query = (
            select(remote_changes).where(c.school == school, c.platform == platform).order_by(c.seq)
        )
        if entity is not None:
            query = query.where(c.entity == entity)
        with self._read() as conn:
            for row in conn.execute(query.execution_options(**stream(2000))):
                yield RemoteChange(
                    seq=row.seq,
                    school=row.school,
                    platform=row.platform,
                    entity=row.entity,
                    record_id=row.record_id,
                    at=row.at,
                    kind=row.kind,
                    run_id=row.run_id,
                    before=orjson.loads(row.before) if row.before else None,
                    after=orjson.loads(row.after) if row.after else None,
                )

    def _set_cursor(
        self, conn: Connection, school: str, platform: str, stream: str, value: dict[str, Any]
    ) -> None:
        ins = self._upsert(cursors).values(
            school=school, platform=platform, stream=stream, value=value, updated_at=utcnow()
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[cursors.c.school, cursors.c.platform, cursors.c.stream],
                set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at},
            )
        )

    def cursors(self, school: str, platform: str) -> dict[str, dict[str, Any]]:
        """Each stream's cursor after the last committed page."""
        with self._read() as conn:
            rows = conn.execute(
                select(cursors.c.stream, cursors.c.value).where(
                    cursors.c.school == school, cursors.c.platform == platform
                )
            )
            return {stream: value for stream, value in rows}

    def reset_cursors(self, school: str, platform: str, stream: str | None = None) -> None:
        """Forget cursors, so the next pull of those streams is a full one."""
        stmt = delete(cursors).where(cursors.c.school == school, cursors.c.platform == platform)
        if stream is not None:
            stmt = stmt.where(cursors.c.stream == stream)
        with self._write() as conn:
            conn.execute(stmt)

    def remote_records(
        self,
        school: str,
        platform: str,
        entity: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> Iterator[Record]:
        """The snapshot's records with their provenance, streamed in id order."""
        stmt = select(_r.entity, _r.data, _r.provenance).where(
            _r.platform == platform, _r.school == school
        )
        if entity is not None:
            stmt = stmt.where(_r.entity == entity)
        if not include_deleted:
            stmt = stmt.where(_r.deleted == False)  # noqa: E712
        with (
            self._read() as conn,
            conn.execute(stmt.order_by(_r.id), execution_options=stream(1000)) as result,
        ):
            for ent, data, prov in result:
                yield record_from_data(
                    ent, orjson.loads(data), orjson.loads(prov) if prov is not None else None
                )

    def remote_external_ids(self, platform: str, ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Platform ids of live snapshot records by canonical id (for ``Change.refs``)."""
        out: dict[str, dict[str, str]] = {}
        wanted = sorted(set(ids))
        with self._read() as conn:
            for chunk in in_chunks(wanted):
                rows = conn.execute(
                    select(_r.id, _r.provenance).where(
                        _r.platform == platform,
                        _r.id.in_(chunk),
                        _r.deleted == False,  # noqa: E712
                        _r.provenance.is_not(None),
                    )
                )
                for rid, prov in rows:
                    out[rid] = dict(orjson.loads(prov).get("external_ids") or {})
        return out

    def remote_counts(self, school: str, platform: str) -> dict[str, int]:
        """Live snapshot records per entity."""
        with self._read() as conn:
            rows = conn.execute(
                select(_r.entity, func.count())
                .where(
                    and_(_r.platform == platform, _r.school == school, _r.deleted == False)  # noqa: E712
                )
                .group_by(_r.entity)
            )
            return {entity: int(n) for entity, n in rows}

    def stale_counts(self, school: str, platform: str) -> dict[str, int]:
        """Live snapshot records per entity whose last read failed (kept, marked stale)."""
        with self._read() as conn:
            rows = conn.execute(
                select(_r.entity, func.count())
                .where(
                    _r.platform == platform,
                    _r.school == school,
                    _r.deleted == false(),
                    _r.stale == true(),
                )
                .group_by(_r.entity)
            )
            return {entity: int(n) for entity, n in rows}

    def quarantined(self, school: str, platform: str | None = None) -> list[QuarantineRow]:
        q = quarantine.c
        stmt = select(quarantine).where(q.school == school)
        if platform is not None:
            stmt = stmt.where(q.platform == platform)
        with self._read() as conn:
            return [QuarantineRow(**row._mapping) for row in conn.execute(stmt.order_by(q.id))]


#: The columns of a snapshot row as :func:`_row` gives them: the table's, in its order (so
#: SQLite's executemany takes the tuples as they are).
_ROW_COLUMNS = tuple(remote_records.c.keys())


def _row(
    platform: str, school: str, scope: str, rec: Record, now: Any, live: Any, run_id: str | None
) -> tuple[Any, ...]:
    return (
        platform,
        school,
        rec.ENTITY,
        rec.id,
        scope,
        rec.parent_id,
        rec.content_hash,
        rec.content_json.decode(),
        _provenance_json(rec),
        live,  # deleted
        now,  # first_seen
        now,  # last_seen
        run_id,
        live,  # stale
    )


def _provenance_json(rec: Record) -> str | None:
    if rec.provenance is None:
        return None
    return rec.provenance.to_json().decode()


def _insert_quarantine(
    conn: Connection,
    school: str,
    platform: str,
    items: Sequence[Quarantined],
    stream_name: str,
    scope: str,
    run_id: str | None,
) -> int:
    if not items:
        return 0
    now = utcnow()
    conn.execute(
        quarantine.insert(),
        [
            {
                "school": school,
                "platform": platform,
                "run_id": run_id,
                "stream": stream_name,
                "scope": scope,
                "entity": q.entity,
                "record": q.record,
                "field": q.field,
                "reason": q.reason,
                "payload": q.payload,
                "at": now,
                "status": "open",
            }
            for q in items
        ],
    )
    return len(items)


#: Entities a family account's view hides with a group: the group, its lessons and homework;
#: and per pupil, the marks and absences of a group the pupil is no longer in.
_BY_GROUP = frozenset({"group", "lesson", "homework"})
_BY_PUPIL = frozenset({"mark", "attendance"})
#: A pupil no account shows any more (:attr:`Page.seen_pupils`): the pupil, the enrollment, and
#: a guardian (whose account it was).
_PUPIL_ROSTER = frozenset({"person", "enrollment"})


def _out_of_sight(
    conn: Connection, platform: str, page: Page, lost: list[tuple[str, str]]
) -> set[str]:
    """The lost records of a family-account page that the accounts can no longer see (kept,
    not deleted): see :attr:`core.connector.Page.visible_members`."""
    visible = page.visible_members or {}
    data = {
        rid: orjson.loads(raw)
        for rid, raw in RemoteStore._data_of(
            conn, platform, [rid for rid, e in lost if e in _BY_GROUP | _BY_PUPIL | _PUPIL_ROSTER]
        ).items()
    }
    lesson_ids = {d.get("lesson_id") for d in data.values() if d.get("lesson_id")}
    lesson_group = {
        r.id: getattr(r, "group_id", None) for r in page.records if r.ENTITY == "lesson"
    }
    missing = [lid for lid in lesson_ids if lid not in lesson_group]
    for rid, raw in RemoteStore._data_of(conn, platform, missing).items():
        lesson_group[rid] = orjson.loads(raw).get("group_id")
    hidden: set[str] = set()
    for rid, entity in lost:
        d = data.get(rid)
        if d is None:
            continue
        if entity in _PUPIL_ROSTER:
            seen = page.seen_pupils
            pupil = rid if entity == "person" else d.get("student_id")
            roles = set(d.get("roles") or ())
            family = entity == "enrollment" or bool(roles & {"student", "guardian"})
            if seen is not None and family and pupil not in seen:
                hidden.add(rid)  # a pupil no account shows now: out of sight, not gone
            continue
        group: str | None
        if entity == "group":
            group = rid
        elif entity == "lesson":
            group = d.get("group_id")
        else:
            group = lesson_group.get(d.get("lesson_id"))
        if group is None:
            continue
        members = visible.get(group)
        if (
            entity in _BY_PUPIL
            and page.seen_pupils is not None
            and d.get("student_id") not in page.seen_pupils
        ):
            hidden.add(rid)  # a pupil no account shows now: out of sight, not gone
        elif members is None or (
            entity in _BY_PUPIL and members and d.get("student_id") not in members
        ):
            hidden.add(rid)
    return hidden
