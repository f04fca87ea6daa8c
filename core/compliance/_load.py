"""Build a school's frame straight from the store's tables.

The database pulls the few fields each rule needs out of the stored JSON (``json_extract`` on
SQLite, ``->>`` on PostgreSQL) and turns timestamps into epoch seconds, so Python never parses a
record: one query per entity, rows fetched in bulk through the DBAPI cursor and transposed into
columns. This is the path the benchmark measures (ten million marks in well under a minute).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from sqlalchemy import func, select

from core.compliance._build import build_frame
from core.compliance._frame import FIELDS, ChangeEvent, FrameBuilder, JournalFrame
from core.model import ENTITIES
from core.store import Store

__all__ = ["HISTORY_ENTITIES", "frame_from_store"]

#: Entities whose "updated" changes the rules read (topics, mark values, reasons, subgroups).
HISTORY_ENTITIES = ("lesson", "mark", "attendance", "group")
_PROV = {"created_at", "updated_at"}


def _epoch(dialect: str, expr: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM CAST({expr} AS timestamptz)) AS BIGINT)"
    return f"CAST(strftime('%s', {expr}) AS INTEGER)"


def _prov(dialect: str, name: str) -> str:
    if dialect == "postgresql":
        return f"CAST(provenance AS jsonb)->>'{name}'"
    return f"json_extract(provenance, '$.{name}')"


def _expr(dialect: str, entity: str, name: str, remote: bool, weights: bool) -> str:
    pg = dialect == "postgresql"
    if name == "weight" and not weights:
        return "1.0"  # only the forecast reads weights: one JSON lookup less per mark
    if name == "id":
        return "id"
    if name == ENTITIES[entity].PARENT:
        return "parent_id"  # a plain column: no JSON to parse
    if name == "first_seen":
        return "NULL"  # folded into created_at below
    if name == "created_at":
        if not remote:
            return "NULL"
        # The platform's time when it has one, else -2 - (first seen): one column, one parse.
        seen = (
            _epoch(dialect, "first_seen") if pg else "CAST(strftime('%s', first_seen) AS INTEGER)"
        )
        return f"COALESCE({_epoch(dialect, _prov(dialect, 'created_at'))}, -2 - {seen})"
    if name == "updated_at":
        if not remote:
            return "NULL"
        # Most platforms send no updated-at: a substring test is far cheaper than a parse.
        found = "strpos(provenance, 'updated_at')" if pg else "instr(provenance, 'updated_at')"
        epoch = _epoch(dialect, _prov(dialect, "updated_at"))
        return f"CASE WHEN {found} > 0 THEN COALESCE({epoch}, -1) ELSE -1 END"
    if name == "has_topic":
        if pg:
            return "CASE WHEN COALESCE(CAST(data AS jsonb)->>'topic', '') <> '' THEN 1 ELSE 0 END"
        return "COALESCE(json_extract(data, '$.topic'), '') <> ''"
    if pg:
        op = "->" if name in ("teacher_ids", "member_ids") else "->>"
        return f"CAST(data AS jsonb){op}'{name}'"
    return f"json_extract(data, '$.{name}')"


def _typed(dialect: str, expr: str) -> str:
    """PostgreSQL wants one type per CASE: text (the frame builder parses numbers back)."""
    return f"CAST({expr} AS TEXT)" if dialect == "postgresql" else expr


_FREQUENT = ("mark", "attendance", "lesson", "final_mark", "homework")


def _query(
    store: Store, table: str, school: str, platform: str | None, weights: bool
) -> tuple[str, dict[str, Any]]:
    """One scan over the school's rows: column k is field k of whatever entity the row is
    (a ``CASE`` on the entity), so the index is walked once, not once per entity."""
    remote = platform is not None
    width = max(len(names) for names in FIELDS.values())
    cols = ["entity"]
    # The most frequent entities first: SQLite tries the WHEN branches in order.
    how = (remote, weights)
    order = sorted(FIELDS, key=lambda e: _FREQUENT.index(e) if e in _FREQUENT else 99)
    for k in range(width):
        branches = " ".join(
            f"WHEN '{e}' THEN {_typed(store.dialect, _expr(store.dialect, e, names[k], *how))}"
            for e in order
            if k < len(names := FIELDS[e])
        )
        cols.append(f"CASE entity {branches} END")
    entities = ", ".join(f"'{e}'" for e in FIELDS)
    where = f"school = :school AND deleted = :deleted AND entity IN ({entities})"
    params: dict[str, Any] = {"school": school, "deleted": False}
    if platform is not None:
        where += " AND platform = :platform"
        params["platform"] = platform
    return f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", params


def _fetch(store: Store, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        if store.dialect == "sqlite":
            cur.execute(sql, dict(params))
        else:
            pyformat = sql.replace("%", "%%")
            for k in params:
                pyformat = pyformat.replace(f":{k}", f"%({k})s")
            cur.execute(pyformat, dict(params))
        rows: list[tuple[Any, ...]] = list(cur.fetchall())
        cur.close()
    finally:
        raw.close()
    return rows


def _columns(rows: list[tuple[Any, ...]], n: int) -> list[tuple[Any, ...]]:
    if not rows:
        return [() for _ in range(n)]
    return list(zip(*rows, strict=True))[1 : n + 1]


def frame_from_store(
    store: Store,
    school: str,
    platform: str | None = None,
    *,
    history: bool = True,
    weights: bool = False,
) -> JournalFrame:
    """One school's frame from the remote snapshot of ``platform`` (or the local journal).

    With ``history``, the change history is read too: the store's remote change log
    (``Store.remote_changes``) for a platform, the local change log for the local journal.
    Mark weights are read only with ``weights`` (the forecast needs them, no rule does).
    """
    b = FrameBuilder(school)
    table = "remote_records" if platform is not None else "local_records"
    sql, params = _query(store, table, school, platform, weights)
    by_entity: dict[str, list[tuple[Any, ...]]] = {e: [] for e in FIELDS}
    for row in _fetch(store, sql, params):
        by_entity[row[0]].append(row)
    for entity, names in FIELDS.items():
        fetched = _columns(by_entity.pop(entity), len(names))
        columns: dict[str, Any] = dict(zip(names, fetched, strict=True))
        if platform is not None and "created_at" in columns:
            coded = np.array(columns["created_at"], dtype=np.int64)
            columns["created_at"] = np.where(coded >= 0, coded, -1)
            columns["first_seen"] = np.where(coded <= -2, -2 - coded, -1)
        b.add(entity, columns)
    if platform is not None:
        b.baseline = _first_pull(store, school, platform)
    if history:
        _add_history(store, b, school, platform)
    return build_frame(b)


def _first_pull(store: Store, school: str, platform: str) -> int:
    """When the school's first pull ran: its school and year records come with every first
    pull (cheap to find); a snapshot without them falls back to the earliest record."""
    r = store.tables["remote_records"].c
    scoped = (r.platform == platform, r.school == school)
    with store.engine.connect() as conn:
        first = conn.execute(
            select(func.min(r.first_seen)).where(
                *scoped, r.entity.in_(("school", "academic_year", "period"))
            )
        ).scalar()
        if first is None:
            first = conn.execute(select(func.min(r.first_seen)).where(*scoped)).scalar()
    return int(first.timestamp()) if first is not None else -1


def _add_history(store: Store, b: FrameBuilder, school: str, platform: str | None) -> None:
    if platform is None:
        for e in store.change_log(school):
            if e.entity in HISTORY_ENTITIES:
                b.changes.append(
                    ChangeEvent(
                        e.entity, e.record_id, e.at, _kind(e.before, e.after), e.before, e.after
                    )
                )
        b.history.update(HISTORY_ENTITIES)
        return
    table = store.tables.get("remote_changes")
    if table is None:
        return  # a store without the remote change log: history rules say so
    c = table.c
    # Only updates carry the before/after the rules read; inserts (one per record pulled)
    # are left in the database.
    query = (
        select(c.entity, c.record_id, c.at, c.kind, c.before, c.after)
        .where(
            c.school == school,
            c.platform == platform,
            c.entity.in_(HISTORY_ENTITIES),
            c.kind == "updated",
        )
        .order_by(c.seq)
    )
    with store.engine.connect() as conn:
        for entity, rid, at, kind, before, after in conn.execute(query):
            b.changes.append(ChangeEvent(entity, rid, at, kind, _json(before), _json(after)))
    b.history.update(HISTORY_ENTITIES)


def _json(text: str | None) -> dict[str, Any] | None:
    return orjson.loads(text) if text else None


def _kind(before: object, after: object) -> str:
    if before is None:
        return "inserted"
    return "deleted" if after is None else "updated"
