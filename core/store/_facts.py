"""``remote_facts``: the typed columns the compliance rules read, derived from the snapshot.

The facts are a projection of ``remote_records`` kept up to date from the store's remote change
log: :func:`refresh` re-derives, in SQL, the facts of the records changed since the last refresh
of that school and platform (its ``facts_watermark``), so a report after a day's pull pays for
the day's changes, and a pull pays nothing (it already logs every change it makes). The same
``INSERT … SELECT`` derives everything at once (:func:`backfill`): migration 0003 runs it for a
store that existed before the table did, and a bulk loader that writes ``remote_records``
directly (bypassing the change log, as the compliance benchmark does) runs it for what it loaded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, text

from core.store._base import upsert
from core.store._schema import facts_watermark, remote_changes, remote_records

__all__ = ["FACT_ENTITIES", "FIELD_COLUMNS", "backfill", "epoch_sql", "refresh"]

#: The entities with typed facts: the frequent ones (a school has a hundred thousand marks).
#: The others (rosters, periods: a few thousand rows a school) keep their JSON ``data`` there,
#: so that a school's frame is read from this table alone, by primary-key ranges.
FACT_ENTITIES = ("lesson", "homework", "mark", "attendance", "final_mark")

#: ``kind`` holds a mark's work type or an attendance code (no entity has both).
_KIND_FIELDS = ("work_type", "code")
#: Fact column → the canonical field (in the record's JSON) it holds.
_FROM_FIELD = {
    "student_id": "student_id",
    "subject_id": "subject_id",
    "teacher_id": "teacher_id",
    "value": "value",
    "weight": "weight",
    "day": "date",
    "number": "number",
    "shift": "shift",
    "end_time": "end_time",
}
#: A canonical field → the fact column holding it.
FIELD_COLUMNS = {
    **{name: column for column, name in _FROM_FIELD.items()},
    **dict.fromkeys(_KIND_FIELDS, "kind"),
}
_PG_CASTS = {"weight": "DOUBLE PRECISION", "number": "INTEGER", "shift": "INTEGER"}


def epoch_sql(dialect: str, expr: str) -> str:
    """SQL for the UTC epoch seconds of ``expr`` (truncated, as Python's ``int(timestamp)``)."""
    if dialect == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM CAST({expr} AS timestamptz))) AS BIGINT)"
    return f"CAST(strftime('%s', {expr}) AS INTEGER)"


def _json(dialect: str, column: str, name: str, cast: str | None = None) -> str:
    if dialect == "postgresql":
        expr = f"CAST({column} AS jsonb)->>'{name}'"
        return f"CAST({expr} AS {cast})" if cast else expr
    return f"json_extract({column}, '$.{name}')"


_TYPED = ", ".join(f"'{e}'" for e in FACT_ENTITIES)


def _derive_sql(dialect: str, where: str) -> str:
    """``INSERT … SELECT`` of the facts of the ``remote_records`` rows ``where`` selects."""
    pg = dialect == "postgresql"
    columns = {
        "platform": "platform",
        "school": "school",
        "entity": "entity",
        "id": "id",
        "parent_id": "parent_id",
        **{
            col: _json(dialect, "data", name, _PG_CASTS.get(col) if pg else None)
            for col, name in _FROM_FIELD.items()
        },
        "kind": "COALESCE(" + ", ".join(_json(dialect, "data", f) for f in _KIND_FIELDS) + ")",
        "has_topic": "CASE WHEN entity = 'lesson' THEN CASE WHEN COALESCE("
        + _json(dialect, "data", "topic")
        + ", '') <> '' THEN 1 ELSE 0 END END",
        "created_at": epoch_sql(dialect, _json(dialect, "provenance", "created_at")),
        "updated_at": epoch_sql(dialect, _json(dialect, "provenance", "updated_at")),
        "first_seen": epoch_sql(dialect, "first_seen"),
        "deleted": "deleted",
        "data": f"CASE WHEN entity IN ({_TYPED}) THEN NULL ELSE data END",
    }
    return (
        f"INSERT INTO remote_facts ({', '.join(columns)}) "
        f"SELECT {', '.join(columns.values())} FROM remote_records WHERE {where}"
    )


#: The records of one school and platform changed after a watermark.
_SINCE = "FROM remote_changes WHERE school = :school AND platform = :platform AND seq > :since"
_CHANGED = f"SELECT record_id {_SINCE}"
_CHANGED_KEYS = f"SELECT entity, record_id {_SINCE}"


def refresh(conn: Connection, school: str, platform: str) -> int:
    """Bring one school's facts up to its remote change log; returns the records re-derived.

    Run inside a write transaction: the facts and the watermark move together.
    """
    w = facts_watermark.c
    since = conn.execute(
        select(w.seq).where(w.school == school, w.platform == platform)
    ).scalar_one_or_none()
    c = remote_changes.c
    last = conn.execute(
        select(func.max(c.seq)).where(c.school == school, c.platform == platform)
    ).scalar_one_or_none()
    if last is None or (since is not None and last <= since):
        return 0
    params: dict[str, Any] = {"school": school, "platform": platform, "since": since or 0}
    scope = "school = :school AND platform = :platform"
    conn.execute(
        text(f"DELETE FROM remote_facts WHERE {scope} AND (entity, id) IN ({_CHANGED_KEYS})"),
        params,
    )
    dialect = conn.dialect.name
    derived = conn.execute(text(_derive_sql(dialect, f"{scope} AND id IN ({_CHANGED})")), params)
    _set_watermark(conn, school, platform, int(last))
    return int(derived.rowcount or 0)


def backfill(conn: Connection) -> int:
    """Derive the facts of the whole snapshot (into an empty table) and set every school's
    watermark to its change log's end; returns the rows derived."""
    derived = conn.execute(text(_derive_sql(conn.dialect.name, "1 = 1")))
    r, c = remote_records.c, remote_changes.c
    pairs = conn.execute(select(r.school, r.platform).distinct()).all()
    ends = dict(
        ((row[0], row[1]), row[2])
        for row in conn.execute(
            select(c.school, c.platform, func.max(c.seq)).group_by(c.school, c.platform)
        )
    )
    for school, platform in pairs:
        _set_watermark(conn, school, platform, int(ends.get((school, platform)) or 0))
    return int(derived.rowcount or 0)


def _set_watermark(conn: Connection, school: str, platform: str, seq: int) -> None:
    ins = upsert(facts_watermark, conn.dialect.name)
    conn.execute(
        ins.values(school=school, platform=platform, seq=seq).on_conflict_do_update(
            index_elements=["school", "platform"], set_={"seq": seq}
        )
    )
