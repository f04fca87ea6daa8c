"""КИАСУО payload models: what the tolerant reading makes of the platform's loose types."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.kiasuo import schema as s


def _lesson(*slots: dict[str, Any]) -> dict[str, Any]:
    return {
        "lesson_event_id": 1,
        "subject": "Алгебра",
        "lesson_number": 1,
        "lesson_date": "2026-09-01",
        "slots": list(slots),
    }


def test_numbers_where_text_is_documented_are_read_as_their_text() -> None:
    subject = s.parse(
        s.FinalSubject,
        {"id": 7, "subject": "Алгебра", "marks": {"1": 5, "2": 4.5, "3": None}},
        what="final",
    )
    assert (subject.id, subject.marks) == ("7", {"1": "5", "2": "4.5", "3": None})
    week = s.parse(
        s.Schedule,
        {"schedule": [_lesson({"lesson_date": "2026-09-01", "mark": {"value": 5}})]},
        what="schedule",
    )
    lesson = week.schedule[0]
    assert isinstance(lesson, s.ScheduleLesson)
    assert lesson.slots[0] == s.Slot(lesson_date=date(2026, 9, 1), mark=s.MarkCell(value="5"))


@pytest.mark.parametrize("value", [True, [5], {"v": 5}])
def test_a_mark_that_is_not_text_or_a_number_is_a_bad_slot(value: object) -> None:
    week = s.parse(
        s.Schedule,
        {
            "schedule": [
                _lesson(
                    {"lesson_date": "2026-09-01", "mark": {"value": value}},
                    {"lesson_date": "2026-09-02", "mark": {"value": "4"}},
                )
            ]
        },
        what="schedule",
    )
    lesson = week.schedule[0]
    assert isinstance(lesson, s.ScheduleLesson)
    assert [type(x).__name__ for x in lesson.slots] == ["Bad", "Slot"]
    bad = lesson.slots[0]
    assert isinstance(bad, s.Bad) and bad.field == "mark.value"


def test_lesson_marks_slots_are_read_for_their_day_and_stamp_only() -> None:
    """The roster reads a slot's day and ``updated_at``; its mark and text are documented but
    not read (the week's schedule gives them), so a mark of the wrong type costs no stamp."""
    s.reset_drift_reports()
    slots = [
        {"lesson_date": "2026-09-01", "mark": {"value": True}, "text": 5, "weight": 2},
        {"lesson_date": "2026-09-02", "updated_at": "2026-09-02T15:00:00+07:00", "novel": 1},
        {"lesson_date": "never"},
    ]
    with capture_logs() as logs:
        marks = s.parse(
            s.LessonMarks, {"lessons": [{"id": 9, "subject": "Алгебра", "slots": slots}]}, what="m"
        )
    subject = marks.lessons[0]
    assert isinstance(subject, s.SubjectMarks)
    assert [type(x).__name__ for x in subject.slots] == ["SlotStamp", "SlotStamp", "Bad"]
    first, second = subject.slots[:2]
    assert isinstance(first, s.SlotStamp) and first.lesson_date == date(2026, 9, 1)
    assert isinstance(second, s.SlotStamp) and second.updated_at is not None
    assert [(e["model"], e["fields"]) for e in logs if "drift" in e["event"]] == [
        ("SlotStamp", ["novel"])
    ]
