"""``remote_facts``: derived from the change log, incrementally, equal to a full derivation, on
SQLite and PostgreSQL; deletes and restores follow the snapshot; an old store is backfilled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import select

from core.codes import AttendanceCode, MarkValue
from core.connector import Page
from core.model import Mark, Record
from core.store import FACT_ENTITIES, Store
from core.store._base import _MIGRATIONS
from tests.core.compliance.test_compliance_world import SCHOOL, absent, at, build, prov

P = "test"


def _facts(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    t = store.tables["remote_facts"]
    with store.engine.connect() as conn:
        rows = conn.execute(select(t)).mappings().all()
    return {(r["entity"], r["id"]): dict(r) for r in rows}


def _records() -> list[Record]:
    w = build()
    le = w.lessons("5А")
    w.replace(le[0], topic="")  # a lesson without a topic: has_topic 0
    absent(w, w.students("5А")[0], le[3], AttendanceCode.ILL)
    mark = next(r for r in w.records if isinstance(r, Mark))
    # a mark the platform says was changed
    w.replace(mark, provenance=prov(at(le[0].date), at(le[0].date + timedelta(days=3))))
    return list(w.records)


def _commit(store: Store, records: list[Record]) -> None:
    page = Page(stream="all", scope="all", records=records, cursor={}, complete_for=FACT_ENTITIES)
    store.commit_page(SCHOOL, P, page)


def test_facts_from_the_change_log_equal_a_full_derivation(store: Store) -> None:
    records = _records()
    _commit(store, records)
    assert store.refresh_facts(SCHOOL, P) == len(records)
    derived = _facts(store)
    assert {e for e, _ in derived} == {r.ENTITY for r in records}
    # typed columns for the frequent entities, the JSON of the others
    assert all((v["data"] is None) == (e in FACT_ENTITIES) for (e, _), v in derived.items())
    lesson = [v for (e, _), v in derived.items() if e == "lesson" and v["has_topic"] == 0]
    assert len(lesson) == 1 and lesson[0]["day"] and lesson[0]["number"] is not None
    changed = [v for (e, _), v in derived.items() if e == "mark" and v["updated_at"]]
    assert len(changed) == 1 and changed[0]["updated_at"] > changed[0]["created_at"]
    assert "ill" in {v["kind"] for (e, _), v in derived.items() if e == "attendance"}
    marks = [v for (e, _), v in derived.items() if e == "mark"]
    assert all(v["value"] and v["kind"] and v["weight"] and v["student_id"] for v in marks)

    assert store.backfill_facts() == len(derived)
    assert _facts(store) == derived
    assert store.refresh_facts(SCHOOL, P) == 0  # the backfill moved the watermark


def test_refresh_follows_changes_deletes_and_restores(store: Store) -> None:
    records = _records()
    _commit(store, records)
    store.refresh_facts(SCHOOL, P)
    first = _facts(store)
    marks = [r for r in records if isinstance(r, Mark)]
    gone, changed = marks[0], marks[1]
    new_value = MarkValue.FIVE if changed.value != MarkValue.FIVE else MarkValue.FOUR
    rest = [r for r in records if r.id not in (gone.id, changed.id)]
    _commit(store, [*rest, changed.model_copy(update={"value": new_value})])
    assert store.refresh_facts(SCHOOL, P) == 2  # only what changed is derived again
    after = _facts(store)
    assert after[("mark", gone.id)]["deleted"] in (True, 1)
    assert after[("mark", changed.id)]["value"] == new_value.value
    assert after[("mark", changed.id)]["first_seen"] == first[("mark", changed.id)]["first_seen"]
    assert {k: v for k, v in after.items() if k[1] not in (gone.id, changed.id)} == {
        k: v for k, v in first.items() if k[1] not in (gone.id, changed.id)
    }
    _commit(store, records)  # the deleted mark is back, the changed one changed back
    assert store.refresh_facts(SCHOOL, P) == 2
    assert _facts(store) == first


def test_upgrade_of_an_old_store_derives_its_facts(store: Store) -> None:
    _commit(store, _records())
    store.refresh_facts(SCHOOL, P)
    before = _facts(store)
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
        command.upgrade(cfg, "head")
    assert _facts(store) == before
    assert store.refresh_facts(SCHOOL, P) == 0
