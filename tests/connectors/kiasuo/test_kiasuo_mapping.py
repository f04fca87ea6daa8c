"""КИАСУО payload → canonical mapping, on hand-written payloads in the note's shapes."""

from __future__ import annotations

from datetime import date, time

import pytest

from connectors.kiasuo import schema as s
from connectors.kiasuo._weeks import iso_week, week_monday, weeks_between
from connectors.kiasuo.mapping import Mapper, distinct_slots, parse_staff_name, period_kind
from core.codes import AttendanceCode, MarkValue, PeriodKind
from core.errors import UnknownCode
from core.model import Attendance, Mark

LESSON = {
    "lesson_event_id": 987,
    "subject": "Алгебра",
    "teacher": "Иванов И. И.",
    "lesson_number": 3,
    "lesson_date": "2027-01-01",
    "from": "10:25",
    "to": "11:10",
    "theme": "не указана",
    "created_homework_id": 555,
    "homework_to_check_ids": [],
    "slots": [],
    "color": "#fff",
}


def _mapper() -> Mapper:
    return Mapper("school-1", "https://diaryapi.kiasuo.ru/")


def _slot(value: object, text: str = "Контрольная работа") -> s.Slot:
    mark = {} if value is None else {"value": value}
    return s.Slot.model_validate(
        {
            "lesson_date": "2027-01-01",
            "mark": mark,
            "text": text,
            "updated_at": "2027-01-01T10:11:12+07:00",
        }
    )


def _records(slot: s.Slot, ordinals: dict[tuple[int, str], int] | None = None) -> list[object]:
    m = _mapper()
    le = s.ScheduleLesson.model_validate(LESSON)
    lesson = m.lesson(le, "group-1", None)
    return list(
        m.slot_records(
            slot,
            student=456,
            lesson=lesson,
            event_id=987,
            ordinals={} if ordinals is None else ordinals,
        )
    )


def test_double_mark_is_two_marks_with_ordinals_1_and_2() -> None:
    marks = _records(_slot("4/5"))
    assert [(m.value, m.ordinal, m.work_type) for m in marks if isinstance(m, Mark)] == [
        (MarkValue.FOUR, 1, "test"),
        (MarkValue.FIVE, 2, "test"),
    ]
    first = marks[0]
    assert isinstance(first, Mark) and first.provenance is not None
    assert first.provenance.updated_at is not None


@pytest.mark.parametrize(
    ("value", "code"),
    [("Н", AttendanceCode.ABSENT), ("У", AttendanceCode.EXCUSED), ("Б", AttendanceCode.ILL)],
)
def test_absence_codes_are_attendance_not_marks(value: str, code: AttendanceCode) -> None:
    (rec,) = _records(_slot(value, ""))
    assert isinstance(rec, Attendance) and rec.code is code


def test_a_second_cell_of_the_same_kind_continues_the_ordinals() -> None:
    ordinals: dict[tuple[int, str], int] = {}
    _records(_slot("5", "Ответ на уроке"), ordinals)
    (mark,) = _records(_slot("3", "Работа у доски"), ordinals)
    assert isinstance(mark, Mark) and (mark.work_type, mark.ordinal) == ("answer", 2)


def test_a_slot_listed_twice_is_read_once_and_numbers_nothing() -> None:
    """Found by the soak: a duplicated slot took ordinal 2, a mark that is not there."""
    five, three = _slot("5", "Ответ на уроке"), _slot("3", "Ответ на уроке")
    later = s.Slot.model_validate({**five.model_dump(), "updated_at": "2027-01-02T09:00:00+07:00"})
    assert list(distinct_slots([five, three, five.model_copy()])) == [five, three]
    assert list(distinct_slots([five, later])) == [five, later]  # another entry: both kept
    ordinals: dict[tuple[int, str], int] = {}
    marks = [
        m for slot in distinct_slots([five, five.model_copy()]) for m in _records(slot, ordinals)
    ]
    assert [(m.value, m.ordinal) for m in marks if isinstance(m, Mark)] == [(MarkValue.FIVE, 1)]


def test_dot_and_empty_cells() -> None:
    (dot,) = _records(_slot("."))
    assert isinstance(dot, Mark) and dot.value is MarkValue.DOT
    assert _records(_slot(None)) == []  # mark: {} — clients allow it
    (five,) = _records(_slot(5))  # a number where a string is documented
    assert isinstance(five, Mark) and five.value is MarkValue.FIVE


def test_unknown_mark_value_is_a_skippable_code_error() -> None:
    with pytest.raises(UnknownCode) as err:
        _records(_slot("Ъ"))
    assert err.value.field == "mark.value" and err.value.entity == "mark"


def test_unknown_kind_of_work_is_kept_as_other_with_its_label() -> None:
    (mark,) = _records(_slot("4", "Работа с картой"))
    assert isinstance(mark, Mark) and (mark.work_type, mark.comment) == ("other", "Работа с картой")


def test_lesson_topic_and_homework_placeholders() -> None:
    m = _mapper()
    le = s.ScheduleLesson.model_validate(LESSON)
    lesson = m.lesson(le, "group-1", None)
    assert lesson.topic == "" and lesson.start_time == time(10, 25) and lesson.number == 3
    placeholder = s.HomeworkItem.model_validate({"id": 1, "text": "Без задания"})
    assert m.homework(placeholder, lesson.id) is None
    item = s.HomeworkItem.model_validate(
        {
            "id": 555,
            "lesson_date": "2027-01-01",
            "check_at": "2027-01-08",
            "text": "Упр. 5 стр. 10",
            "files": [{"url": "/uploads/x/file.pdf", "title": "file.pdf"}],
            "links": [{"url": "https://example.org/a", "title": "ссылка"}],
        }
    )
    hw = m.homework(item, lesson.id)
    assert hw is not None and hw.due_date == date(2027, 1, 8)
    assert [a.url for a in hw.attachments] == [
        "https://diaryapi.kiasuo.ru/uploads/x/file.pdf",
        "https://example.org/a",
    ]


def test_staff_names_with_bracketed_subjects() -> None:
    e = parse_staff_name(
        "Петрова Анна Сергеевна (Русский язык, Труд (технология), Математика)", 1001
    )
    assert (e.last_name, e.first_name, e.middle_name) == ("Петрова", "Анна", "Сергеевна")
    assert e.subjects == {"Русский язык", "Труд (технология)", "Математика"}
    assert e.short_name == "Петрова А. С."
    admin = parse_staff_name("Сидоров Пётр Ильич", 7)
    assert admin.subjects == frozenset() and admin.middle_name == "Ильич"


def test_period_names() -> None:
    assert period_kind("1 четверть") == (PeriodKind.QUARTER, 1)
    assert period_kind("2 полугодие") == (PeriodKind.HALF_YEAR, 2)
    with pytest.raises(UnknownCode):
        period_kind("Каникулы")


def test_iso_weeks_across_new_year() -> None:
    assert iso_week(date(2026, 12, 31)) == (2026, 53)
    assert iso_week(date(2027, 1, 3)) == (2026, 53)
    assert iso_week(date(2024, 12, 30)) == (2025, 1)
    assert week_monday((2026, 53)) == date(2026, 12, 28)
    assert weeks_between(date(2026, 12, 20), date(2027, 1, 5)) == [
        (2026, 51),
        (2026, 52),
        (2026, 53),
        (2027, 1),
    ]


def test_recipients_of_another_child_are_empty() -> None:
    payload = {
        "456": {
            "staff": {"Учителя": {"Иванов Иван Иванович (Алгебра)": 1001}},
            "students": {"Петров Пётр": {"parents": None, "id": 2002}},
        }
    }
    mine = s.parse_recipients(payload, 456)
    assert mine.staff["Учителя"] == {"Иванов Иван Иванович (Алгебра)": 1001}
    assert mine.students["Петров Пётр"].id == 2002
    assert s.parse_recipients(payload, 999) == s.Recipients()
