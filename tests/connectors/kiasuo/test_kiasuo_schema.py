"""КИАСУО payload models: what the tolerant reading makes of the platform's loose types."""

from __future__ import annotations

import pytest

from connectors.kiasuo import schema as s


def test_numbers_where_text_is_documented_are_read_as_their_text() -> None:
    subject = s.parse(
        s.FinalSubject,
        {"id": 7, "subject": "Алгебра", "marks": {"1": 5, "2": 4.5, "3": None}},
        what="final",
    )
    assert (subject.id, subject.marks) == ("7", {"1": "5", "2": "4.5", "3": None})
    lesson = s.parse(
        s.SubjectMarks,
        {"subject": "Алгебра", "slots": [{"lesson_date": "2026-09-01", "mark": {"value": 5}}]},
        what="marks",
    )
    slot = lesson.slots[0]
    assert isinstance(slot, s.Slot) and slot.mark == s.MarkCell(value="5")


@pytest.mark.parametrize("value", [True, [5], {"v": 5}])
def test_a_mark_that_is_not_text_or_a_number_is_a_bad_slot(value: object) -> None:
    lesson = s.parse(
        s.SubjectMarks,
        {
            "subject": "Алгебра",
            "slots": [
                {"lesson_date": "2026-09-01", "mark": {"value": value}},
                {"lesson_date": "2026-09-02", "mark": {"value": "4"}},
            ],
        },
        what="marks",
    )
    assert [type(x).__name__ for x in lesson.slots] == ["Bad", "Slot"]
    bad = lesson.slots[0]
    assert isinstance(bad, s.Bad) and bad.field == "mark.value"
