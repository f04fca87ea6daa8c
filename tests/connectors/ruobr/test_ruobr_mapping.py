"""Ruobr payload → canonical mapping: homework HTML, control marks, codes, periods."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.ruobr import schema as s
from connectors.ruobr._html import homework_text
from connectors.ruobr.mapping import Mapper, final_value, subgroup_of
from core.codes import AttendanceCode, MarkValue, PeriodKind
from core.errors import Skippable, UnknownCode
from core.model import Attachment, Lesson

HTML = (
    "<p>Упр.&nbsp;5, 6 &amp; 7</p>"
    "<p>Прочитать <b>параграф</b>   12<br>и ответить на вопросы</p>"
    '<p><a href="https://ruobr.ru/mediac/tasks/abc/%D0%97%D0%B0%D0%B4%D0%B0%D0%BD%D0%B8%D0%B5.docx">'
    "Задание.docx</a></p>"
    '<p><img src="//ruobr.ru/mediac/tasks/abc/scan.jpg"></p>'
    '<p><a href="/mediac/tasks/abc/table.xlsx"></a></p>'
    "<script>alert(1)</script>"
)


def test_homework_html_becomes_plain_text_and_attachments() -> None:
    text, files = homework_text(HTML)
    assert text == "Упр. 5, 6 & 7\nПрочитать параграф 12\nи ответить на вопросы\nЗадание.docx"
    assert files == (
        Attachment(
            name="Задание.docx",
            url="https://ruobr.ru/mediac/tasks/abc/%D0%97%D0%B0%D0%B4%D0%B0%D0%BD%D0%B8%D0%B5.docx",
        ),
        Attachment(name="scan.jpg", url="https://ruobr.ru/mediac/tasks/abc/scan.jpg"),
        Attachment(name="table.xlsx", url="https://ruobr.ru/mediac/tasks/abc/table.xlsx"),
    )


def test_homework_record_keeps_text_files_and_drifted_deadline() -> None:
    m = Mapper("school-1")
    for raw in ("2026-09-10", "2026-09-10T00:00:00", "10.09.2026"):
        task = s.Task.model_validate({"id": 7, "title": "Упр. 5", "deadline": raw, "text": HTML})
        hw = m.homework(task, lesson_id="L", ordinal=1)
        assert hw.due_date == date(2026, 9, 10)
        assert hw.text.startswith("Упр. 5, 6 & 7") and len(hw.attachments) == 3
        assert hw.student_ids == ()


def test_homework_without_html_text_falls_back_to_the_title() -> None:
    task = s.Task.model_validate({"id": 7, "title": " Упр. 5 ", "deadline": "2026-09-10"})
    assert Mapper("school-1").homework(task, lesson_id="L", ordinal=1).text == "Упр. 5"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(5.0, MarkValue.FIVE), (2.0, MarkValue.TWO), (0.0, None), (0, None)],
)
def test_control_mark_floats_and_zero_as_no_mark(raw: float, value: MarkValue | None) -> None:
    assert final_value(float(raw)) == value


@pytest.mark.parametrize("raw", [4.5, 6.0, -1.0])
def test_control_mark_that_is_not_a_whole_mark_is_an_unknown_code(raw: float) -> None:
    with pytest.raises(UnknownCode):
        final_value(raw)


def test_control_mark_strings_with_decimal_comma_parse() -> None:
    cm = s.ControlMark.model_validate({"subject_id": 1, "subject_name": "Алгебра", "mark": "4,0"})
    assert cm.mark == 4.0


@pytest.mark.parametrize(
    ("title", "rom", "kind", "ordinal"),
    [
        ("1-я четверть", "I", PeriodKind.QUARTER, 1),
        ("II четверть", "II", PeriodKind.QUARTER, 2),
        ("2 полугодие", "", PeriodKind.HALF_YEAR, 2),
        ("Четверть", "III", PeriodKind.QUARTER, 3),
        ("Год", "", PeriodKind.YEAR, 1),
    ],
)
def test_period_titles(title: str, rom: str, kind: PeriodKind, ordinal: int) -> None:
    cp = s.ControlPeriod.model_validate(
        {
            "period": 9,
            "rom": rom,
            "title": title,
            "date_start": "2026-09-01",
            "date_end": "2026-10-25",
        }
    )
    p = Mapper("school-1").period("Y", cp)
    assert (p.kind, p.ordinal, p.name) == (kind, ordinal, title)


def test_unknown_period_title_is_skippable() -> None:
    cp = s.ControlPeriod.model_validate(
        {"period": 9, "title": "Каникулы", "date_start": "2026-09-01", "date_end": "2026-10-25"}
    )
    with pytest.raises(Skippable) as err:
        Mapper("school-1").period("Y", cp)
    assert err.value.field == "title"


def _lesson() -> Lesson:
    return Lesson(school="school-1", group_id="G", date=date(2026, 9, 7), number=1, teacher_id="T")


def test_diary_marks_map_work_type_text_and_string_or_int_values() -> None:
    m = Mapper("school-1")
    for raw in ("4", 4):
        mark = s.LessonMark.model_validate(
            {"question_id": 1, "question_type": "Контрольная работа", "number": 2, "mark": raw}
        )
        rec = m.mark(mark, _lesson(), 11, 99)
        assert (rec.work_type, rec.ordinal, rec.value, rec.teacher_id) == ("test", 2, "4", "T")
        assert rec.weight == 1.0  # Ruobr has no weights


def test_unknown_work_type_and_mark_value_are_quarantinable() -> None:
    m = Mapper("school-1")
    odd_type = s.LessonMark.model_validate(
        {"question_id": 1, "question_type": "Викторина", "mark": "5"}
    )
    with pytest.raises(UnknownCode) as err:
        m.mark(odd_type, _lesson(), 11, 99)
    assert err.value.field == "question_type"
    odd_value = s.LessonMark.model_validate(
        {"question_id": 1, "question_type": "Ответ на уроке", "mark": "7"}
    )
    with pytest.raises(UnknownCode):
        m.mark(odd_value, _lesson(), 11, 99)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("Н", AttendanceCode.ABSENT), ("УП", AttendanceCode.EXCUSED), ("б", AttendanceCode.ILL)],
)
def test_attendance_codes(code: str, expected: AttendanceCode) -> None:
    rec = Mapper("school-1").attendance_record(code, _lesson(), 11, 99)
    assert rec.code is expected


def test_subgroup_from_division_string() -> None:
    assert subgroup_of("Английский язык, 2 подгруппа") == 2
    assert subgroup_of("Английский язык") == 0
    assert subgroup_of("") == 0


def test_school_name_number_prefix_is_stripped() -> None:
    assert Mapper("s").school_record('69-МБОУ "СОШ №69"').name == 'МБОУ "СОШ №69"'


def test_lessons_with_optional_keys_absent_and_a_bad_mark_item() -> None:
    tt = s.parse(
        s.Timetable,
        {
            "lessons": [
                {"id": 1, "date": "2026-09-07", "time_start": "08:30:00", "subject": "Алгебра"},
                {
                    "id": 2,
                    "date": "2026-09-07",
                    "time_start": "09:25:00",
                    "subject": "Алгебра",
                    "marks": [{"question_id": "x", "mark": "5"}, {"question_id": 3, "mark": 4}],
                },
            ]
        },
        what="timetable2/",
    )
    first, second = tt.lessons
    assert isinstance(first, s.Lesson) and first.task == [] and first.marks == []
    assert isinstance(second, s.Lesson)
    bad, good = second.marks
    assert isinstance(bad, s.Bad) and bad.field == "question_id"
    assert isinstance(good, s.LessonMark) and good.mark == "4"
