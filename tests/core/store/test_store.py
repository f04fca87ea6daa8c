"""The store on a real SQLite file and (with JOURNALSYNC_TEST_PG) a real PostgreSQL schema."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from core.codes import MarkValue
from core.connector import Change, Page, Quarantined
from core.model import Lesson, Mark, Provenance, Record, Subject
from core.store import FieldDiff, NewFinding, RunState, Store, _drift
from core.store._base import _MIGRATIONS, utcnow
from core.store._remote import RemoteStore
from core.sync._limits import DEFAULT_PULL_LIMITS, pull_breaches

S, P = "school-1", "netschool"


def mark(student: str, lesson: str = "L1", value: str = "5", **kw: Any) -> Mark:
    return Mark(
        school=S,
        student_id=student,
        lesson_id=lesson,
        work_type="answer",
        value=MarkValue(value),
        **kw,
    )


def lesson(number: int, topic: str = "") -> Lesson:
    return Lesson(school=S, group_id="G1", date=date(2025, 9, 1), number=number, topic=topic)


def page(
    records: list[Record],
    *,
    scope: str = "scope-a",
    stream: str = "marks",
    cursor: dict[str, Any] | None = None,
    complete_for: frozenset[str] = frozenset({"mark"}),
    quarantine: list[Quarantined] | None = None,
) -> Page:
    return Page(
        stream=stream,
        scope=scope,
        records=records,
        cursor=cursor if cursor is not None else {"at": scope},
        quarantine=quarantine or [],
        complete_for=complete_for,
    )


def count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(store.tables[table])).scalar_one())


# --- migrations ----------------------------------------------------------------------------------


def test_open_migrates_to_head_and_reopening_is_a_no_op(store: Store, store_url: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None and head >= "0004"  # the newest migration of this tree
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
    store.upsert_local(S, [mark("a")], actor="t")
    again = Store.open(store_url)
    try:
        assert [r.id for r in again.local_records(S)] == [mark("a").id]
    finally:
        again.close()


def test_migrations_downgrade_and_upgrade_cleanly(store: Store) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert set(store.tables) <= set(inspect(conn).get_table_names())


# --- remote snapshot -----------------------------------------------------------------------------


def test_commit_page_counts_inserted_updated_unchanged(store: Store) -> None:
    first = store.commit_page(S, P, page([mark("a"), mark("b"), mark("c")], cursor={"n": 1}))
    assert (first.inserted, first.updated, first.unchanged, first.deleted) == (3, 0, 0, 0)

    same = store.commit_page(S, P, page([mark("a"), mark("b"), mark("c")], cursor={"n": 2}))
    assert (same.inserted, same.updated, same.unchanged) == (0, 0, 3)

    changed = store.commit_page(S, P, page([mark("a", value="4"), mark("b"), mark("c")]))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    values = {r.student_id: r.value for r in store.remote_records(S, P, "mark")}  # type: ignore[attr-defined]
    assert values == {"a": MarkValue.FOUR, "b": MarkValue.FIVE, "c": MarkValue.FIVE}


def test_unchanged_rows_are_not_rewritten(store: Store) -> None:
    store.commit_page(S, P, page([mark("a")]), run_id="run-1")
    store.commit_page(S, P, page([mark("a")]), run_id="run-2")
    with store.engine.connect() as conn:
        t = store.tables["remote_records"]
        assert conn.execute(select(t.c.run_id)).scalar_one() == "run-1"


def test_postgresql_statistics_follow_a_snapshot_that_outgrew_them(store: Store) -> None:
    """A first pull must not plan its id lookups on a table PostgreSQL believes is empty."""
    if store.dialect != "postgresql":
        pytest.skip("PostgreSQL planner statistics")

    def known() -> float:
        with store.engine.connect() as conn:
            return float(
                conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE oid = 'remote_records'::regclass")
                ).scalar_one()
            )

    assert known() < 0  # never analysed
    store.commit_page(S, P, page([mark(f"s{n}") for n in range(30)]))
    assert known() == 30
    store.commit_page(S, P, page([mark(f"s{n}", lesson="L2") for n in range(100)], scope="b"))
    assert known() == 130


def test_scope_replacement_stays_inside_scope_and_complete_entities(store: Store) -> None:
    store.commit_page(S, P, page([mark("a"), mark("b"), lesson(1)], scope="A"))
    store.commit_page(S, P, page([mark("c")], scope="B"))

    # Scope A again without b and without the lesson: only the mark is "complete" here.
    counts = store.commit_page(S, P, page([mark("a")], scope="A"))
    assert counts.deleted == 1
    live = {r.id for r in store.remote_records(S, P)}
    assert live == {mark("a").id, mark("c").id, lesson(1).id}
    every = {r.id for r in store.remote_records(S, P, include_deleted=True)}
    assert mark("b").id in every
    assert store.remote_counts(S, P) == {"mark": 2, "lesson": 1}

    # A deleted record that reappears is undeleted.
    back = store.commit_page(S, P, page([mark("a"), mark("b")], scope="A"))
    assert (back.inserted, back.updated, back.unchanged, back.deleted) == (0, 1, 1, 0)
    assert store.remote_counts(S, P) == {"mark": 3, "lesson": 1}


def test_records_moved_unchanged_to_another_scope_are_staged_and_weighed(store: Store) -> None:
    """A page taking another page's records (a misread layout: wrong term dates, an empty
    answer read as data) is staged like a delete, and its moves count against the limits."""
    marks = [mark(f"s{i}") for i in range(30)]
    store.commit_page(S, P, page(marks, scope="A"))
    store.commit_page(S, P, page([], scope="B"))

    counts = store.commit_pages(S, P, [page(marks, scope="B")], stage=True)
    assert counts[0].updated == 0 and store.has_staged(S, P)
    effects = store.staged_effects(S, P)
    assert effects == {"mark": {"moves": 30}}
    breach = pull_breaches(effects, store.remote_counts(S, P), DEFAULT_PULL_LIMITS)
    assert breach == [
        "mark: 30 moved to another page (scope) unchanged of 30 live records (limit 20 %)"
    ]
    # Nothing moved yet: scope A read again as it was finds its records where they were.
    assert store.commit_pages(S, P, [page(marks, scope="A")], stage=True)[0].unchanged == 30
    # A record that only moves within a few records' worth stays under the floor.
    few = pull_breaches({"mark": Counter(moves=3)}, {"mark": 30}, DEFAULT_PULL_LIMITS)
    assert few == []


def test_a_record_read_again_with_its_platform_id_back_gets_it_without_a_change(
    store: Store,
) -> None:
    """Found by the soak (ЭПОС, a field missing from one answer): an absence read once without
    its optional id kept that provenance for good, as its content had not changed."""
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    without = mark("a", provenance=Provenance(platform=P, fetched_at=t0))
    with_id = mark("a", provenance=Provenance(platform=P, external_ids={"id": "9"}))
    store.commit_page(S, P, page([without]))
    counts = store.commit_page(S, P, page([with_id]))
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 0, 1)
    assert store.remote_external_ids(P, [with_id.id]) == {with_id.id: {"id": "9"}}
    assert [c.kind for c in store.remote_changes(S, P)] == ["inserted"]  # no content change
    # Only the fetch time differing is no reason to write the row.
    later = mark("a", provenance=Provenance(platform=P, external_ids={"id": "9"}, fetched_at=t0))
    with store.engine.connect() as conn:
        before = conn.execute(text("SELECT last_seen FROM remote_records")).scalar_one()
    store.commit_page(S, P, page([later]))
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT last_seen FROM remote_records")).scalar_one() == before


def test_other_schools_scopes_are_not_replaced(store: Store) -> None:
    store.commit_page(S, P, page([mark("a")], scope="A"))
    other = Mark(school="school-2", student_id="z", lesson_id="L9", work_type="answer", value="3")
    store.commit_page("school-2", P, page([other], scope="A"))
    store.commit_page(S, P, page([], scope="A"))
    assert store.remote_counts(S, P) == {}
    assert store.remote_counts("school-2", P) == {"mark": 1}


def test_a_failing_page_leaves_nothing_written(store: Store) -> None:
    store.commit_page(S, P, page([mark("a")], cursor={"n": 1}))
    # The quarantine payload cannot be serialised: the failure comes after the records and the
    # scope replacement were already executed in the transaction.
    bad = page(
        [mark("b"), mark("c")],
        cursor={"n": 2},
        quarantine=[Quarantined("mark", "x1", "value", "unknown code", payload=object())],
    )
    with pytest.raises(Exception):  # noqa: B017 — the driver's own error type varies
        store.commit_page(S, P, bad)
    assert {r.id for r in store.remote_records(S, P)} == {mark("a").id}
    assert store.cursors(S, P) == {"marks": {"n": 1}}
    assert store.quarantined(S) == []


def test_an_exception_between_steps_rolls_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.commit_page(S, P, page([mark("a")], cursor={"n": 1}))

    def boom(*args: object, **kw: object) -> int:
        raise RuntimeError("crash after the upsert")

    monkeypatch.setattr(RemoteStore, "_mark_stale", boom)
    with pytest.raises(RuntimeError):
        store.commit_page(S, P, page([mark("a", value="2"), mark("b")], cursor={"n": 2}))
    assert [r.value for r in store.remote_records(S, P)] == [MarkValue.FIVE]  # type: ignore[attr-defined]
    assert store.remote_counts(S, P) == {"mark": 1}
    assert store.cursors(S, P) == {"marks": {"n": 1}}


def test_cursors_round_trip_and_reset(store: Store) -> None:
    store.commit_page(S, P, page([], stream="marks", cursor={"week": "2025-W36", "ids": [1, 2]}))
    store.commit_page(S, P, page([], stream="lessons", cursor={"period": 7}))
    store.commit_page(S, P, page([], stream="marks", cursor={"week": "2025-W37", "ids": []}))
    assert store.cursors(S, P) == {
        "marks": {"week": "2025-W37", "ids": []},
        "lessons": {"period": 7},
    }
    assert store.cursors(S, "other") == {}
    store.reset_cursors(S, P, "marks")
    assert store.cursors(S, P) == {"lessons": {"period": 7}}
    store.reset_cursors(S, P)
    assert store.cursors(S, P) == {}


def test_remote_records_keep_provenance_and_external_ids(store: Store) -> None:
    prov = Provenance(platform=P, external_ids={"cmId": "77", "sgId": "5"})
    rec = lesson(1).model_copy(update={"provenance": prov})
    store.commit_page(S, P, page([rec], complete_for=frozenset({"lesson"})))
    [back] = store.remote_records(S, P)
    assert back.provenance == prov and back.content_hash == rec.content_hash
    assert store.remote_external_ids(P, [rec.id, "unknown"]) == {
        rec.id: {"cmId": "77", "sgId": "5"}
    }


def test_quarantine_rows_are_saved_with_their_page(store: Store) -> None:
    q = Quarantined("mark", "ns:991", "value", "unknown mark value 'Z'", payload={"mark": "Z"})
    counts = store.commit_page(S, P, page([mark("a")], scope="7A", quarantine=[q]), run_id="r1")
    assert counts.quarantined == 1
    [row] = store.quarantined(S, P)
    assert (row.stream, row.scope, row.run_id, row.entity, row.record) == (
        "marks",
        "7A",
        "r1",
        "mark",
        "ns:991",
    )
    assert (row.field, row.reason, row.payload, row.status) == (
        "value",
        "unknown mark value 'Z'",
        {"mark": "Z"},
        "open",
    )
    assert store.quarantined(S, "other") == []


# --- local records -------------------------------------------------------------------------------


def test_upsert_local_logs_every_real_change(store: Store) -> None:
    c1 = store.upsert_local(S, [mark("a"), mark("b")], actor="teacher-1", reason="paper journal")
    assert (c1.inserted, c1.updated, c1.unchanged) == (2, 0, 0)
    c2 = store.upsert_local(S, [mark("a", value="3"), mark("b")], actor="teacher-2")
    assert (c2.inserted, c2.updated, c2.unchanged) == (0, 1, 1)

    log = store.change_log(S, mark("a").id)
    assert [(e.actor, e.reason) for e in log] == [("teacher-1", "paper journal"), ("teacher-2", "")]
    assert log[0].before is None and log[0].after is not None and log[0].after["value"] == "5"
    assert log[1].before == log[0].after and log[1].after is not None
    assert log[1].after["value"] == "3"
    assert len(store.change_log(S)) == 3

    assert store.delete_local(S, [mark("b").id, "nope"], actor="admin", reason="duplicate") == 1
    assert store.delete_local(S, [mark("b").id], actor="admin") == 0
    last = store.change_log(S, mark("b").id)[-1]
    assert last.after is None and last.before is not None and last.actor == "admin"
    assert [r.id for r in store.local_records(S)] == [mark("a").id]

    # A deleted record coming back is an insert.
    c3 = store.upsert_local(S, [mark("b")], actor="teacher-1")
    assert (c3.inserted, c3.updated, c3.unchanged) == (1, 0, 0)
    assert store.change_log(S, mark("b").id)[-1].before is None


def test_upsert_local_batches_large_inputs(store: Store) -> None:
    many = [mark(f"s{i}") for i in range(1200)]
    assert store.upsert_local(S, iter(many), actor="import").inserted == 1200
    assert count(store, "local_changes") == 1200
    assert sum(1 for _ in store.local_records(S, "mark")) == 1200
    assert store.upsert_local(S, many, actor="import").unchanged == 1200


# --- drift ---------------------------------------------------------------------------------------


def diff_of(store: Store) -> dict[tuple[str, str], tuple[Any, Any]]:
    out: dict[tuple[str, str], tuple[Any, Any]] = {}
    for row in store.diff(S, P):
        out[(row.record_id, row.kind)] = (row.local, row.remote)
    return out


def test_diff_kinds_and_parent_scoping(store: Store) -> None:
    store.upsert_local(S, [mark("same"), mark("changed"), mark("local-only")], actor="t")
    store.commit_page(
        S,
        P,
        page(
            [
                mark("same"),
                mark("changed", value="2"),
                mark("remote-only"),  # same lesson as local marks → extra
                mark("other-lesson", lesson="L2"),  # no local marks under L2 → not drift
                Subject(school=S, name="Физика"),  # no local subjects at all → not drift
            ],
            complete_for=frozenset({"mark", "subject"}),
        ),
    )
    d = diff_of(store)
    assert set(d) == {
        (mark("changed").id, "mismatch"),
        (mark("local-only").id, "missing_on_platform"),
        (mark("remote-only").id, "extra_on_platform"),
    }
    local, remote = d[(mark("changed").id, "mismatch")]
    assert local["value"] == "5" and remote["value"] == "2"
    assert d[(mark("local-only").id, "missing_on_platform")][1] is None
    assert d[(mark("remote-only").id, "extra_on_platform")][0] is None

    # Parentless entity: extra once the school keeps any local record of it.
    store.upsert_local(S, [Subject(school=S, name="Химия")], actor="t")
    d = diff_of(store)
    assert (Subject(school=S, name="Физика").id, "extra_on_platform") in d
    assert (Subject(school=S, name="Химия").id, "missing_on_platform") in d

    # Deleted sides are absent sides.
    store.delete_local(S, [mark("same").id], actor="t")
    store.commit_page(
        S,
        P,
        page([mark("changed", value="2"), mark("remote-only")], complete_for=frozenset({"mark"})),
    )
    d = diff_of(store)
    assert (mark("same").id, "extra_on_platform") not in d  # deleted remotely too now
    assert (mark("other-lesson").id, "extra_on_platform") not in d
    store.upsert_local(S, [mark("local-2", lesson="L2")], actor="t")
    d = diff_of(store)
    assert (mark("local-2", lesson="L2").id, "missing_on_platform") in d
    # L2 is now a local scope, but its remote mark was deleted by the last page: not extra.
    assert (mark("other-lesson", lesson="L2").id, "extra_on_platform") not in d


def test_diff_ignores_other_schools_and_platforms(store: Store) -> None:
    store.upsert_local(S, [mark("a")], actor="t")
    store.commit_page(S, "kiasuo", page([mark("a", value="2"), mark("b")]))
    assert {(r.record_id, r.kind) for r in store.diff(S, P)} == {
        (mark("a").id, "missing_on_platform")
    }
    assert list(store.diff("school-2", P)) == []


def test_diff_streams_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 3 * _drift._DIFF_BATCH
    rows = [
        {
            "school": S,
            "entity": "mark",
            "id": f"id-{i:06d}",
            "parent_id": "L1",
            "content_hash": "0" * 32,
            "data": f'{{"i": {i}}}',
            "deleted": False,
            "updated_at": utcnow(),
        }
        for i in range(n)
    ]
    with store.engine.begin() as conn:
        conn.execute(store.tables["local_records"].insert(), rows)

    batches: list[int] = []
    original = _drift.DriftStore._with_data

    def spy(conn: Any, platform: str, batch: Any) -> Any:
        batches.append(len(batch))
        return original(conn, platform, batch)

    monkeypatch.setattr(_drift.DriftStore, "_with_data", staticmethod(spy))
    it = store.diff(S, P)
    first = next(it)
    assert first.kind == "missing_on_platform" and first.local is not None
    assert batches == [_drift._DIFF_BATCH]  # one batch fetched, not the whole result
    it.close()  # type: ignore[attr-defined]


# --- findings ------------------------------------------------------------------------------------


def test_findings_lifecycle(store: Store) -> None:
    f1 = NewFinding("mark", "m1", "mismatch", (FieldDiff("value", "5", "4"),))
    f2 = NewFinding("mark", "m2", "missing_on_platform")
    c = store.record_findings(S, P, [f1, f2], run_id="r1")
    assert (c.opened, c.reopened, c.still_open, c.resolved) == (2, 0, 0, 0)
    [a, b] = store.findings(S, P)
    assert (a.record_id, a.status, a.fields) == ("m1", "open", (FieldDiff("value", "5", "4"),))
    assert b.record_id == "m2"

    # m2 gone → resolved; m1 still there.
    c = store.record_findings(S, P, [f1], run_id="r2")
    assert (c.opened, c.reopened, c.still_open, c.resolved) == (0, 0, 1, 1)
    gone = store.findings(S, P, status="resolved")
    assert [g.record_id for g in gone] == ["m2"]
    assert gone[0].note == "no longer seen" and gone[0].resolved_at is not None

    # m2 back → reopened, same id.
    c = store.record_findings(S, P, [f1, f2], run_id="r3")
    assert (c.opened, c.reopened, c.still_open, c.resolved) == (0, 1, 1, 0)
    again = {f.record_id: f for f in store.findings(S, P)}
    assert again["m2"].id == b.id and again["m2"].status == "open"
    assert again["m2"].resolved_at is None and again["m2"].first_seen == b.first_seen

    # Accepted stays accepted while unchanged, and is not resolved when absent...
    store.set_finding_status(a.id, "accepted", note="the platform is right")
    c = store.record_findings(S, P, [f1, f2], run_id="r4")
    assert (c.reopened, c.still_open) == (0, 2)
    c = store.record_findings(S, P, [f2], run_id="r5")
    assert c.resolved == 0
    assert {f.record_id: f.status for f in store.findings(S, P)}["m1"] == "accepted"
    # ...and reopens when its fields change.
    f1b = NewFinding("mark", "m1", "mismatch", (FieldDiff("value", "5", "3"),))
    c = store.record_findings(S, P, [f1b, f2], run_id="r6")
    assert c.reopened == 1
    m1 = {f.record_id: f for f in store.findings(S, P)}["m1"]
    assert m1.status == "open" and m1.fields == (FieldDiff("value", "5", "3"),)

    assert store.findings(S, "other") == []
    with pytest.raises(KeyError):
        store.set_finding_status("no-such-id", "resolved")


# --- outbox --------------------------------------------------------------------------------------


def test_outbox_is_idempotent_by_key(store: Store) -> None:
    m = mark("a")
    changes = [Change(key="k1", op="upsert", record=m), Change(key="k2", op="delete", record=m)]
    assert store.enqueue(S, P, changes, channel="api") == 2
    assert (
        store.enqueue(S, P, [Change(key="k1", op="upsert", record=mark("b"))], channel="api") == 0
    )
    assert store.enqueue(S, P, [Change(key="k3", op="upsert", record=m)] * 2, channel="api") == 1
    items = store.outbox(S, P)
    assert [i.key for i in items] == ["k1", "k2", "k3"]
    assert items[0].record == m and items[0].status == "pending" and items[0].attempts == 0

    store.set_outbox_status(["k1"], "sent")
    store.set_outbox_status(["k1"], "failed", error="HTTP 500")
    store.set_outbox_status(["k2"], "awaiting_entry")
    k1 = store.outbox(S, P, "failed")[0]
    assert (k1.attempts, k1.last_error) == (2, "HTTP 500")
    store.set_outbox_status(["k1"], "verified")
    assert [i.key for i in store.outbox(S, P, ["verified", "awaiting_entry"])] == ["k1", "k2"]
    assert store.outbox(S, P, "verified")[0].attempts == 2
    with pytest.raises(ValueError):
        store.set_outbox_status(["k1"], "lost")


# --- runs ----------------------------------------------------------------------------------------


def test_start_run_with_the_same_key_returns_the_same_run(store: Store) -> None:
    r1 = store.start_run("s1:netschool:pull:2025-09-01T10", S, P, "pull")
    r2 = store.start_run("s1:netschool:pull:2025-09-01T10", S, P, "pull")
    assert r1.created and not r2.created and r1.id == r2.id
    assert r2.state is RunState.PLANNED
    assert [r.id for r in store.runs(S)] == [r1.id]
    assert len(store.transitions(r1.id)) == 1


def test_run_transitions_legal_and_illegal(store: Store) -> None:
    run = store.start_run("k", S, P, "sync")
    with pytest.raises(ValueError):
        store.transition(run.id, RunState.DONE)  # planned → done is not a move
    store.transition(run.id, RunState.PULLING, counts={"pages": 3})
    store.transition(run.id, RunState.RECONCILING, counts={"findings": 2})
    store.transition(run.id, RunState.HELD, note="12 % of marks would change")
    with pytest.raises(ValueError):
        store.transition(run.id, RunState.VERIFYING)
    store.transition(run.id, RunState.PUSHING, note="approved")
    store.transition(run.id, RunState.VERIFYING)
    done = store.transition(run.id, RunState.DONE)
    assert done.state is RunState.DONE and done.counts == {"pages": 3, "findings": 2}
    with pytest.raises(ValueError):
        store.transition(run.id, RunState.FAILED)  # final
    states = [(t.from_state, t.to_state) for t in store.transitions(run.id)]
    assert states[0] == (None, RunState.PLANNED)
    assert states[-2:] == [
        (RunState.PUSHING, RunState.VERIFYING),
        (RunState.VERIFYING, RunState.DONE),
    ]
    assert [t.seq for t in store.transitions(run.id)] == list(range(1, 8))
    assert store.transitions(run.id)[3].note == "12 % of marks would change"


def test_failed_run_resumes_only_explicitly(store: Store) -> None:
    run = store.start_run("k", S, P, "pull")
    store.transition(run.id, RunState.PULLING)
    failed = store.transition(run.id, RunState.FAILED, error="connection reset")
    assert failed.error == "connection reset"
    with pytest.raises(ValueError):
        store.transition(run.id, RunState.PULLING)
    resumed = store.transition(run.id, RunState.PULLING, resume=True, note="resumed")
    assert resumed.state is RunState.PULLING and resumed.error is None
    assert store.get_run(run.id).state is RunState.PULLING
    with pytest.raises(KeyError):
        store.get_run("missing")
