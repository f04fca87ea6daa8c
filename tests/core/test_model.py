"""The canonical model: deterministic ids, content hashes, normalisation, code lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from hashlib import blake2b

import orjson
import pytest
from pydantic import ValidationError

from connectors.sandbox import World, WorldSize
from core.codes import (
    WORK_TYPES,
    AttendanceCode,
    CodeTable,
    MarkValue,
    numeric_mark,
    split_mark_text,
)
from core.errors import UnknownCode
from core.model import (
    ENTITIES,
    Attachment,
    ClassUnit,
    Homework,
    Lesson,
    Mark,
    Provenance,
    Subject,
    normalise_class_name,
    record_from_data,
    record_id,
)


def _mark(**kw: object) -> Mark:
    base: dict[str, object] = dict(
        school="s", student_id="st", lesson_id="le", work_type="answer", value=MarkValue.FIVE
    )
    return Mark.model_validate({**base, **kw})


def test_thirteen_entities_each_with_a_natural_key() -> None:
    assert len(ENTITIES) == 13
    for name, cls in ENTITIES.items():
        assert name == cls.ENTITY and cls.KEY


def test_id_depends_on_the_natural_key_only() -> None:
    a = _mark()
    assert _mark(value=MarkValue.TWO, comment="x").id == a.id
    assert _mark(ordinal=2).id != a.id
    assert _mark(work_type="test").id != a.id
    assert a.id == _mark().id  # deterministic, never random


def test_content_hash_covers_fields_but_not_provenance() -> None:
    a = _mark()
    assert _mark(value=MarkValue.FOUR).content_hash != a.content_hash
    with_prov = _mark(provenance=Provenance(platform="netschool", external_ids={"assign": "1"}))
    assert with_prov.content_hash == a.content_hash and with_prov == with_prov


def test_content_json_is_the_sorted_json_of_data_byte_for_byte() -> None:
    """The fast content JSON must equal what every stored hash was computed from: the sorted
    JSON of :meth:`Record.data`, for every entity a world holds, on every platform."""
    world = World.generate(3, WorldSize(grades=(1, 9), letters=1, students_per_class=3, weeks=1))
    slug = next(iter(world.schools))
    seen: set[str] = set()
    for platform in ("netschool", "kiasuo", "ruobr", "perm", "avers"):
        for rec in world.canonical(slug, platform):
            seen.add(rec.ENTITY)
            assert rec.content_json == orjson.dumps(rec.data(), option=orjson.OPT_SORT_KEYS)
    assert len(seen) >= 12, seen


@pytest.mark.parametrize(
    "at",
    [
        None,
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(0))),
        datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=timezone(timedelta(hours=3))),
        datetime(2026, 1, 2, 3, 4, 5),
    ],
)
def test_provenance_json_is_what_pydantic_would_write(at: datetime | None) -> None:
    prov = Provenance(platform="x", external_ids={"cmId": "1"}, fetched_at=at, updated_at=at)
    assert prov.to_json() == orjson.dumps(prov.model_dump(mode="json"))


def test_content_hashes_are_stable_across_releases() -> None:
    """Stored snapshots compare by these hashes: a change here needs a store migration."""
    homework = Homework(
        school="s",
        lesson_id="l",
        text="Упр. 5",
        due_date=date(2026, 1, 2),
        attachments=(Attachment(name="a.pdf", size=3),),
        student_ids=("x",),
    )
    lesson = Lesson(
        school="s", group_id="g", date=date(2026, 1, 2), number=1, start_time=time(8, 30)
    )
    assert homework.content_hash == "033be8d1d9dfd9894c30d44746439eb0"
    assert lesson.content_hash == "64cdbfa54e54df4ca3bfba4620fd2d3e"
    assert homework.content_hash == blake2b(homework.content_json, digest_size=16).hexdigest()


def test_ids_are_stable_across_releases() -> None:
    """Stored snapshots, local records and references are keyed by these ids: a change here
    needs a store migration."""
    assert record_id("mark", "a", "b", date(2026, 1, 2), 3) == "a745fa1edd5f2c1a3aac79b685083998"
    lesson = Lesson(school="s", group_id="g", date=date(2026, 1, 2), number=1)
    assert lesson.id == "0ef12ddf519c9e20d94e70fb508423c9"
    assert record_id("mark", "a") != record_id("lesson", "a")  # the entity is hashed too


def test_records_round_trip_through_data() -> None:
    le = Lesson(school="s", group_id="g", date=date(2026, 9, 7), number=2, topic="Дроби")
    back = record_from_data("lesson", le.data())
    assert back == le and back.id == le.id and back.content_hash == le.content_hash


def test_frozen_and_no_unknown_fields() -> None:
    m = _mark()
    with pytest.raises(ValidationError):
        m.value = MarkValue.ONE  # type: ignore[misc]
    with pytest.raises(ValidationError):
        _mark(colour="red")


@pytest.mark.parametrize(
    ("text", "want"),
    [("7а ", (7, "А")), ("07-A", (7, "А")), ("11 б", (11, "Б")), ("5", (5, ""))],
)
def test_class_names_normalise(text: str, want: tuple[int, str]) -> None:
    assert normalise_class_name(text) == want


def test_class_unit_letter_latin_lookalike_is_cyrillic() -> None:
    latin = ClassUnit(school="s", year_id="y", grade=7, letter="a")
    assert (
        latin.name == "7А"
        and latin.id == ClassUnit(school="s", year_id="y", grade=7, letter="А").id
    )


def test_subject_names_normalise_yo_and_spaces() -> None:
    assert Subject(school="s", name="  Естествознание   ёлки ").name == "Естествознание елки"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("5", [MarkValue.FIVE]),
        ("4/5", [MarkValue.FOUR, MarkValue.FIVE]),
        ("Н/А", [MarkValue.NOT_ATTESTED]),
        ("зачёт", [MarkValue.PASS]),
        ("незачет", [MarkValue.FAIL]),
        ("осв.", [MarkValue.EXEMPT]),
        ("·", [MarkValue.DOT]),
    ],
)
def test_mark_cells(text: str, want: list[MarkValue]) -> None:
    assert split_mark_text(text) == want


@pytest.mark.parametrize("text", ["", "7", "4/7", "отл"])
def test_unknown_mark_cells_are_reported(text: str) -> None:
    with pytest.raises(UnknownCode) as err:
        split_mark_text(text)
    assert err.value.field == "value"


def test_numeric_marks() -> None:
    assert numeric_mark(MarkValue.FOUR) == 4 and numeric_mark(MarkValue.PASS) is None


def test_code_table_reports_what_it_cannot_map() -> None:
    table = CodeTable("attendance code", "code", {"Н": AttendanceCode.ABSENT})
    assert table.lookup("Н") is AttendanceCode.ABSENT
    with pytest.raises(UnknownCode) as err:
        table.lookup("Ж")
    assert err.value.field == "code" and table.seen_unknown == {"Ж"}
    assert table.reverse() == {AttendanceCode.ABSENT: "Н"}


def test_work_types_have_weights_and_written_flags() -> None:
    assert WORK_TYPES["test"].written and not WORK_TYPES["answer"].written
    assert all(w.default_weight > 0 for w in WORK_TYPES.values())


def test_a_copy_gets_its_own_id_and_hash() -> None:
    a = _mark()
    a.id, a.content_hash  # computed and cached  # noqa: B018
    b = a.model_copy(update={"student_id": "other", "value": MarkValue.TWO})
    assert b.id == _mark(student_id="other").id != a.id
    assert b.content_hash == _mark(student_id="other", value=MarkValue.TWO).content_hash
