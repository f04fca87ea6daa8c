"""The content digest: equal for two stores that synced the same contents — on SQLite and on
PostgreSQL alike, whatever their run ids, timestamps and insertion order — and different as soon
as one record, one outbox status or one finding differs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from core.codes import MarkValue
from core.connector import Change, Page, Quarantined
from core.model import Lesson, Mark, Provenance, Record
from core.store import CONTENT_PARTS, FieldDiff, NewFinding, Store

S, P = "school-1", "netschool"


def _lesson(n: int, fetched: datetime) -> Lesson:
    return Lesson(
        school=S,
        group_id="G1",
        date=date(2025, 9, 1),
        number=n,
        topic=f"topic {n}",
        provenance=Provenance(platform=P, external_ids={"cmId": str(100 + n)}, fetched_at=fetched),
    )


def _mark(student: str, value: str = "5") -> Mark:
    return Mark(
        school=S,
        student_id=student,
        lesson_id="L1",
        work_type="answer",
        value=MarkValue(value),
    )


def _fill(store: Store, *, run: str, fetched: datetime, reverse: bool = False) -> None:
    """The same contents every time; run ids, fetch times and order are the caller's."""
    records: list[Record] = [_lesson(n, fetched) for n in range(1, 4)]
    records += [_mark(s) for s in ("a", "b", "c")]
    if reverse:
        records.reverse()
    bad = Quarantined(entity="mark", record="assignment 7", field="value", reason="code «Ж»")
    # The same refused record on two pulls: saved twice, one row of contents.
    for scope in ("week-1", "week-2"):
        page = Page(
            stream="journal",
            scope=scope,
            records=records if scope == "week-1" else [],
            cursor={"at": scope},
            quarantine=[bad],
        )
        store.commit_page(S, P, page, run_id=run)
    store.upsert_local(S, [_mark("a", "4"), _mark("d")], actor="operator", reason="typed in")
    changes = [Change(key=f"k-{s}", op="upsert", record=_mark(s)) for s in ("a", "d")]
    store.enqueue(S, P, changes, channel="api")
    store.set_outbox_status(["k-a"], "failed", error=f"run {run}: timed out")
    store.set_outbox_status(["k-a"], "verified")
    diff = FieldDiff(field="value", local="4", remote="5")
    finding = NewFinding(entity="mark", record_id=_mark("a").id, kind="mismatch", fields=(diff,))
    store.record_findings(S, P, [finding], run_id=run)
    store.start_run(f"{S}:{P}:push:{run}", S, P, "push")


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[Store]:
    """A second store, always SQLite: against ``store`` on PostgreSQL it compares backends."""
    with Store.open(f"sqlite:///{tmp_path / 'reference.db'}") as s:
        yield s


def test_equal_contents_give_equal_digests_whatever_the_bookkeeping(
    store: Store, reference: Store
) -> None:
    _fill(store, run="r-1", fetched=datetime(2026, 9, 14, 8, 0, tzinfo=UTC))
    _fill(reference, run="r-2", fetched=datetime(2026, 9, 15, 9, 30, tzinfo=UTC), reverse=True)
    a, b = store.content_digest(), reference.content_digest()
    assert a == b
    assert set(a.parts) == set(CONTENT_PARTS)
    assert a.records == 6
    assert a.counts["quarantine"] == 1  # saved twice, one distinct row
    assert a.counts["outbox"] == 2 and a.counts["findings"] == 1
    assert sorted(store.content_rows("remote")) == sorted(reference.content_rows("remote"))
    assert store.content_digest() == a  # reading changes nothing


def _changed_mark(store: Store) -> None:
    page = Page(stream="journal", scope="week-1", records=[_mark("b", "3")], cursor={})
    store.commit_page(S, P, page, run_id="r-9")


def _changed_external_id(store: Store) -> None:
    moved = _lesson(2, datetime(2026, 9, 14, tzinfo=UTC))
    assert moved.provenance is not None
    prov = moved.provenance.model_copy(update={"external_ids": {"cmId": "999"}})
    # The same content, seen in another week with another platform id: only the id moved.
    moved = moved.model_copy(update={"provenance": prov})
    page = Page(stream="journal", scope="week-3", records=[moved], cursor={})
    store.commit_page(S, P, page, run_id="r-9")


def _outbox_status(store: Store) -> None:
    store.set_outbox_status(["k-d"], "sent")


def _finding_accepted(store: Store) -> None:
    (finding,) = store.findings(S, P)
    store.set_finding_status(finding.id, "accepted", note="checked")


@pytest.mark.parametrize(
    ("change", "parts"),
    [
        (_changed_mark, {"remote", "remote_history"}),
        (_changed_external_id, {"remote"}),
        (_outbox_status, {"outbox"}),
        (_finding_accepted, {"findings"}),
    ],
)
def test_one_difference_changes_the_digest_and_names_its_part(
    store: Store, reference: Store, change: Callable[[Store], None], parts: set[str]
) -> None:
    fetched = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
    _fill(store, run="r-1", fetched=fetched)
    _fill(reference, run="r-1", fetched=fetched)
    change(store)
    a, b = store.content_digest(), reference.content_digest()
    assert a.digest != b.digest
    assert {p for p in CONTENT_PARTS if a.parts[p] != b.parts[p]} == parts


def test_unknown_part_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown content part"):
        list(store.content_rows("runs"))
