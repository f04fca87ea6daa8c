"""Parsers and mapping of NetSchool payloads (hand-written payloads in the WIRE.md shapes)."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.netschool import schema
from connectors.netschool.mapping import Batch, LessonContext, Mapper, person_id, split_full_name
from core.codes import AttendanceCode, MarkValue, PeriodKind, Role
from core.errors import ContractError, MalformedRecord, Skippable
from core.model import Attendance, Homework, Lesson, Mark, Person

SCHOOL = "school-1"


def _cm(cm_id: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": cm_id,
        "date": "2026-09-07T00:00:00",
        "number": 2,
        "relay": 1,
        "startTime": "09:25",
        "endTime": "10:10",
        "readOnly": False,
        "teacherId": 77,
        "lessonId": 9001,
        "lessonName": "Дроби ",
        "assignments": [],
        "attendance": [],
    }
    base.update(over)
    return base


def _journal(*meetings: dict[str, Any]) -> dict[str, Any]:
    return {
        "journals": [{"subjectGroupId": 456, "students": [], "classMeeting": list(meetings)}],
        "editLimit": {"readOnly": False},
        "markSettings": {"maxMark": 5, "minMark": 1},
        "lastEditCmId": None,
    }


CTX = LessonContext(group_id="g-1", sg_id=456, term_id=31, class_id=12, year_id=7)


def _map(payload: dict[str, Any]) -> Batch:
    parsed = schema.parse(schema.JournalResponse, payload, what="journal")
    batch = Batch()
    Mapper(SCHOOL).journal_page(parsed.journals[0].classMeeting, CTX, batch)
    return batch


def _of(batch: Batch, cls: type) -> list[Any]:
    return [r for r in batch.records if isinstance(r, cls)]


def test_lesson_fields_and_provenance() -> None:
    batch = _map(_journal(_cm(100, relay=2)))
    (lesson,) = _of(batch, Lesson)
    assert (lesson.date, lesson.number, lesson.topic, lesson.shift) == (
        date(2026, 9, 7),
        2,
        "Дроби",
        2,
    )
    assert (lesson.start_time, lesson.end_time) == (time(9, 25), time(10, 10))
    assert lesson.teacher_id == person_id(SCHOOL, 77)
    assert lesson.provenance is not None
    assert lesson.provenance.external_ids == {
        "cmId": "100",
        "sgId": "456",
        "termId": "31",
        "classId": "12",
        "yearId": "7",
        "lessonId": "9001",
    }


def test_marks_ordinals_weights_dot_and_homework() -> None:
    assignments = [
        # ids out of order on purpose: ordinals follow the assignment id
        {"id": 30, "typeId": 10, "weight": 10, "results": [{"studentId": 1, "mark": 4}]},
        {"id": 20, "typeId": 10, "weight": 10, "results": [{"studentId": 1, "mark": 5}]},
        {"id": 25, "typeId": 4, "weight": 20,
         "results": [{"studentId": 2, "mark": None, "duty": True}]},
        {"id": 40, "typeId": 3, "assignmentName": "§ 5 ", "dueDate": "2026-09-09T00:00:00",
         "weight": 0, "results": [{"studentId": 3, "mark": None, "duty": False}]},
        {"id": 35, "typeId": 3, "assignmentName": "№ 12", "dueDate": "2026-09-08T00:00:00",
         "weight": 0},
    ]  # fmt: skip
    batch = _map(_journal(_cm(100, assignments=assignments)))
    assert not batch.quarantine
    marks = {(m.work_type, m.ordinal, m.student_id): m for m in _of(batch, Mark)}
    s1, s2 = person_id(SCHOOL, 1), person_id(SCHOOL, 2)
    assert marks[("answer", 1, s1)].value == MarkValue.FIVE  # assignment 20
    assert marks[("answer", 2, s1)].value == MarkValue.FOUR  # assignment 30
    assert marks[("test", 1, s2)].value == MarkValue.DOT
    assert marks[("test", 1, s2)].weight == 2.0
    assert marks[("answer", 1, s1)].weight == 1.0
    assert len(marks) == 3  # the empty homework cell is no mark
    homework = sorted(_of(batch, Homework), key=lambda h: h.ordinal)
    assert [(h.ordinal, h.text, h.due_date) for h in homework] == [
        (1, "№ 12", date(2026, 9, 8)),
        (2, "§ 5", date(2026, 9, 9)),
    ]
    prov = marks[("answer", 2, s1)].provenance
    assert prov is not None and prov.external_ids["assignId"] == "30"
    assert prov.external_ids["typeId"] == "10"


def test_an_assignment_listed_twice_is_read_once_and_numbers_nothing() -> None:
    """Found by the soak: a duplicated list item used to take an ordinal of its own, so the
    lesson's marks were renumbered (re-identified) and the copy stored as a second mark."""
    first = {"id": 20, "typeId": 10, "weight": 10, "results": [{"studentId": 1, "mark": 5}]}
    second = {"id": 30, "typeId": 10, "weight": 10, "results": [{"studentId": 1, "mark": 4}]}
    clean = _map(_journal(_cm(100, assignments=[first, second])))
    doubled = _map(_journal(_cm(100, assignments=[second, first, second])))
    assert not doubled.quarantine
    key = lambda b: sorted((m.id, m.ordinal, m.value) for m in _of(b, Mark))  # noqa: E731
    assert key(doubled) == key(clean)
    assert len(_of(doubled, Mark)) == 2


def test_attendance_codes_present_is_no_record_and_unknown_code_is_quarantined() -> None:
    rows = [
        {"studentId": 1, "reason": "ОТ"},
        {"studentId": 2, "reason": "НП"},
        {"studentId": 3, "reason": "УП"},
        {"studentId": 4, "reason": "Б"},
        {"studentId": 5, "reason": "ОП"},
        {"studentId": 6, "reason": "ОСВ"},
        {"studentId": 7, "reason": ""},
        {"studentId": 8, "reason": "ХЗ"},
    ]
    batch = _map(_journal(_cm(100, attendance=rows)))
    codes = {a.student_id: a.code for a in _of(batch, Attendance)}
    assert codes == {
        person_id(SCHOOL, 1): AttendanceCode.ABSENT,
        person_id(SCHOOL, 2): AttendanceCode.ABSENT,
        person_id(SCHOOL, 3): AttendanceCode.EXCUSED,
        person_id(SCHOOL, 4): AttendanceCode.ILL,
        person_id(SCHOOL, 5): AttendanceCode.LATE,
        person_id(SCHOOL, 6): AttendanceCode.RELEASED,
    }
    (q,) = batch.quarantine
    assert (q.entity, q.record, q.field) == ("attendance", "cm:100/student:8", "reason")


def test_malformed_items_are_quarantined_alone_and_keep_sibling_ordinals() -> None:
    assignments = [
        {"id": 10, "typeId": 10, "weight": 10,
         "results": [{"studentId": 1, "mark": "пять"}, {"studentId": 2, "mark": 3}]},
        {"id": 20, "typeId": 10, "weight": "heavy", "results": [{"studentId": 1, "mark": 2}]},
        {"id": 30, "typeId": 10, "weight": 10, "results": [{"studentId": 1, "mark": 4}]},
        {"id": 40, "typeId": 99, "weight": 10, "results": [{"studentId": 1, "mark": 5}]},
        {"id": 50, "typeId": 10, "weight": 10, "results": [{"studentId": 3, "mark": 7}]},
    ]  # fmt: skip
    broken_cm = _cm(101)
    del broken_cm["date"]
    batch = _map(_journal(_cm(100, assignments=assignments), broken_cm, _cm(102, number=3)))
    got = {(q.entity, q.record, q.field) for q in batch.quarantine}
    assert got == {
        ("mark", "cm:100/assign:10/student:1", "mark"),
        ("mark", "cm:100/assign:20", "weight"),
        ("mark", "cm:100/assign:40/student:1", "typeId"),
        ("mark", "cm:100/assign:50/student:3", "mark"),
        ("lesson", "cm:101", "date"),
    }
    assert len(_of(batch, Lesson)) == 2
    marks = {(m.student_id, m.ordinal): m.value for m in _of(batch, Mark)}
    # assignment 30 stays the third answer although the second one is malformed
    assert marks == {
        (person_id(SCHOOL, 2), 1): MarkValue.THREE,
        (person_id(SCHOOL, 1), 3): MarkValue.FOUR,
    }
    for q in batch.quarantine:
        assert "пять" not in q.reason and "Иван" not in q.reason


def test_container_break_is_a_contract_error() -> None:
    with pytest.raises(ContractError):
        schema.parse(schema.JournalResponse, {"journal": []}, what="journal")
    with pytest.raises(ContractError):
        schema.parse_list(schema.Term, {"id": 1}, what="terms")


def test_unknown_fields_are_reported_once_per_model() -> None:
    schema.reset_drift_reports()
    payload = {**_journal(_cm(100, newField=1), _cm(101, newField=2)), "newTop": True}
    with capture_logs() as logs:
        schema.parse(schema.JournalResponse, payload, what="journal")
        schema.parse(schema.JournalResponse, payload, what="journal")
    drift = [e for e in logs if "schema drift" in e["event"]]
    models = sorted(e["model"] for e in drift)
    # editLimit/markSettings are documented (KNOWN), so not drift; newTop is
    assert models == ["ClassMeeting", "JournalResponse"]
    cm_entry = next(e for e in drift if e["model"] == "ClassMeeting")
    assert cm_entry["fields"] == ["newField"]


@pytest.mark.parametrize(
    ("name", "kind", "ordinal"),
    [
        ("1 четверть", PeriodKind.QUARTER, 1),
        ("4 четверть", PeriodKind.QUARTER, 4),
        ("2 полугодие", PeriodKind.HALF_YEAR, 2),
        ("3 триместр", PeriodKind.TRIMESTER, 3),
        ("II четверть", PeriodKind.QUARTER, 2),
    ],
)
def test_term_names(name: str, kind: PeriodKind, ordinal: int) -> None:
    term = schema.Term.model_validate(
        {
            "id": 5,
            "name": name,
            "startDate": "2026-09-01T00:00:00",
            "endDate": "2026-10-26T00:00:00",
        }
    )
    period = Mapper(SCHOOL).period("y-1", term)
    assert (period.kind, period.ordinal, period.start) == (kind, ordinal, date(2026, 9, 1))


def test_unknown_term_name_is_skippable_without_the_name() -> None:
    term = schema.Term.model_validate(
        {"id": 5, "name": "Летняя школа", "startDate": "2026-06-01", "endDate": "2026-06-30"}
    )
    with pytest.raises(Skippable) as err:
        Mapper(SCHOOL).period("y-1", term)
    assert err.value.record == "term:5" and err.value.field == "name"


def test_person_names_and_roles() -> None:
    assert split_full_name("Иванов  Иван Иванович") == ("Иванов", "Иван", "Иванович")
    assert split_full_name("Алиев Рашид Ахмед оглы") == ("Алиев", "Рашид", "Ахмед оглы")
    assert split_full_name("Петрова Анна") == ("Петрова", "Анна", "")
    person = Mapper(SCHOOL).person(70, "Петрова Анна", [Role.TEACHER, Role.STUDENT])
    assert isinstance(person, Person)
    assert person.roles == (Role.STUDENT, Role.TEACHER)
    assert person.key == "netschool:70" and person.id == person_id(SCHOOL, 70)
    with pytest.raises(MalformedRecord) as err:
        Mapper(SCHOOL).person(71, "Одинслово", [Role.STUDENT])
    assert err.value.record == "user:71" and "Одинслово" not in err.value.message
