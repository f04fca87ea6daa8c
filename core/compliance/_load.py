"""Build a school's frame straight from the store's tables.

Python never parses a record. A platform's snapshot is read from ``remote_facts`` (brought up
to the change log first), one primary-key range per entity: typed columns for the lessons,
homework, marks, attendance and finals — nearly all the rows — and the JSON of the rest, which
the database takes apart (``json_extract`` on SQLite, ``->>`` on PostgreSQL), as it does for
the local journal. Rows are fetched in bulk through the DBAPI cursor and transposed into
columns. This is the path the benchmark measures.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson
from sqlalchemy import func, select

from core.compliance._build import build_frame
from core.compliance._frame import FIELDS, ChangeEvent, FrameBuilder, JournalFrame
from core.model import ENTITIES
from core.store import FACT_ENTITIES, FIELD_COLUMNS, Store

__all__ = ["HISTORY_ENTITIES", "frame_from_store"]

#: Entities whose "updated" changes the rules read (topics, mark values, reasons, subgroups).
HISTORY_ENTITIES = ("lesson", "mark", "attendance", "group")


def _expr(dialect: str, entity: str, name: str, weights: bool) -> str:
    """A field from the stored JSON (the local journal, and a platform's rarer entities)."""
    pg = dialect == "postgresql"
    if name == "weight" and not weights:
        return "1.0"  # only the forecast reads weights: one JSON lookup less per mark
    if name == "id":
        return "id"
    if name == ENTITIES[entity].PARENT:
        return "parent_id"  # a plain column: no JSON to parse
    if name in ("created_at", "updated_at", "first_seen"):
        return "NULL"  # the local journal has no entry times; a platform's are facts
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


#: A frame field → its ``remote_facts`` column (the parent reference is ``parent_id``).
_FACT_COLUMN = {
    **FIELD_COLUMNS,
    "id": "id",
    "has_topic": "has_topic",
    # The platform's time when it has one, else -2 - (first seen): one column, split below.
    "created_at": "COALESCE(created_at, -2 - first_seen)",
    "updated_at": "COALESCE(updated_at, -1)",
    "first_seen": "NULL",
}


def _fact_query(entity: str, weights: bool) -> str:
    """One entity's fields from ``remote_facts``: one primary-key range, no JSON."""
    parent = ENTITIES[entity].PARENT
    column = {**_FACT_COLUMN, "weight": "weight" if weights else "1.0"}  # as in _expr
    cols = ["parent_id" if name == parent else column[name] for name in FIELDS[entity]]
    return (
        f"SELECT {', '.join(cols)} FROM remote_facts WHERE platform = :platform "
        f"AND school = :school AND entity = '{entity}' AND deleted = :deleted"
    )


def _query(
    store: Store,
    table: str,
    school: str,
    platform: str | None,
    weights: bool,
    entities: tuple[str, ...],
) -> tuple[str, dict[str, Any]]:
    """One scan over the school's rows of ``entities``: column k is field k of whatever entity
    the row is (a ``CASE`` on the entity), so the index is walked once, not once per entity."""
    width = max(len(FIELDS[e]) for e in entities)
    cols = ["entity"]
    # The most frequent entities first: SQLite tries the WHEN branches in order.
    order = sorted(entities, key=lambda e: _FREQUENT.index(e) if e in _FREQUENT else 99)
    for k in range(width):
        branches = " ".join(
            f"WHEN '{e}' THEN {_typed(store.dialect, _expr(store.dialect, e, names[k], weights))}"
            for e in order
            if k < len(names := FIELDS[e])
        )
        cols.append(f"CASE entity {branches} END")
    in_list = ", ".join(f"'{e}'" for e in entities)
    where = f"school = :school AND deleted = :deleted AND entity IN ({in_list})"
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


def _columns(rows: list[tuple[Any, ...]], n: int, *, first: int) -> list[tuple[Any, ...]]:
    """The ``n`` columns of ``rows`` from column ``first`` on."""
    if not rows:
        return [() for _ in range(n)]
    return list(zip(*rows, strict=True))[first : first + n]


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
    with _gc_paused():
        return _frame_from_store(store, school, platform, history=history, weights=weights)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a frame is built: the hundreds of thousands of
    row tuples and strings fetched are acyclic (reference counting frees them), yet each
    collection would walk them all — a third of the build time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _frame_from_store(
    store: Store, school: str, platform: str | None, *, history: bool, weights: bool
) -> JournalFrame:
    if platform is not None:
        store.refresh_facts(school, platform)  # what the pulls changed since the last report
    b = FrameBuilder(school)
    table = "remote_facts" if platform is not None else "local_records"
    # A platform's frequent entities come from its facts; the others from the JSON.
    facts = FACT_ENTITIES if platform is not None else ()
    rest = tuple(e for e in FIELDS if e not in facts)
    sql, params = _query(store, table, school, platform, weights, rest)
    by_entity: dict[str, list[tuple[Any, ...]]] = {e: [] for e in rest}
    for row in _fetch(store, sql, params):
        by_entity[row[0]].append(row)
    fetched_by: dict[str, list[tuple[Any, ...]]] = {
        e: _columns(rows, len(FIELDS[e]), first=1) for e, rows in by_entity.items()
    }
    for entity in facts:
        rows = _fetch(store, _fact_query(entity, weights), params)
        fetched_by[entity] = _columns(rows, len(FIELDS[entity]), first=0)
    for entity, names in FIELDS.items():
        columns: dict[str, Any] = dict(zip(names, fetched_by.pop(entity), strict=True))
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
    r = store.tables["remote_facts"].c  # first_seen in epoch seconds, by primary-key ranges
    scoped = (r.platform == platform, r.school == school)
    with store.engine.connect() as conn:
        first = conn.execute(
            select(func.min(r.first_seen)).where(
                *scoped, r.entity.in_(("school", "academic_year", "period"))
            )
        ).scalar()
        if first is None:
            first = conn.execute(select(func.min(r.first_seen)).where(*scoped)).scalar()
    return int(first) if first is not None else -1


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
