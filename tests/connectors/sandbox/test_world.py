"""The deterministic world generator."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from connectors.sandbox.world import World, WorldSize
from core.codes import WORK_TYPES, AttendanceCode, MarkValue
from core.model import (
    Attendance,
    ClassUnit,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Person,
    Record,
)

SMALL = WorldSize(grades=(1, 5, 7), letters=1, students_per_class=8, weeks=2)


def hashes(records: list[Record]) -> list[tuple[str, str]]:
    return [(r.id, r.content_hash) for r in records]


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(42, WorldSize(grades=(1, 2, 5, 7, 9), letters=2, students_per_class=20))


def test_same_seed_same_world_different_seed_different() -> None:
    a = World.generate(5, SMALL).canonical("school-1", "netschool")
    b = World.generate(5, SMALL).canonical("school-1", "netschool")
    c = World.generate(6, SMALL).canonical("school-1", "netschool")
    assert hashes(a) == hashes(b)
    assert hashes(a) != hashes(c)
    assert [a.password for a in World.generate(5, SMALL).accounts()] == [
        a.password for a in World.generate(5, SMALL).accounts()
    ]


def test_sizes_are_honoured() -> None:
    size = WorldSize(schools=2, grades=(3, 8), letters=3, students_per_class=4, weeks=3)
    w = World.generate(1, size)
    assert sorted(w.schools) == ["school-1", "school-2"]
    recs = w.canonical("school-2", "kiasuo")
    classes = [r for r in recs if isinstance(r, ClassUnit)]
    assert sorted(c.name for c in classes) == ["3А", "3Б", "3В", "8А", "8Б", "8В"]
    students = [r for r in recs if isinstance(r, Person) and r.roles == ("student",)]
    assert len(students) == 6 * 4
    assert all(p.key.startswith("kiasuo:") for p in recs if isinstance(p, Person))
    days = {r.date for r in recs if isinstance(r, Lesson)}
    assert min(days) == date(2026, 9, 1)  # the first school day: Tuesday 1 September 2026
    assert max(days) == date(2026, 9, 18)  # Friday of the third week (from 31 August)
    assert {d.weekday() for d in days} == {0, 1, 2, 3, 4}
    assert w.today == date(2026, 9, 19)
    ids = [
        *w.persons,
        *w.lessons,
        *w.groups,
        *w.assignments,
        *w.classes,
        *w.subjects,
        *(s.ext_id for s in w.schools.values()),
    ]
    assert len(ids) == len(set(ids))


def test_grade_1_has_no_marks_and_no_homework(world: World) -> None:
    recs = world.canonical("school-1", "netschool")
    grade1 = {c.id for c in recs if isinstance(c, ClassUnit) and c.grade == 1}
    groups = {g.id for g in recs if isinstance(g, Group) and g.class_id in grade1}
    lessons = {le.id for le in recs if isinstance(le, Lesson) and le.group_id in groups}
    assert lessons
    assert not [m for m in recs if isinstance(m, Mark | Homework) and m.lesson_id in lessons]
    others = [m for m in recs if isinstance(m, Mark) and m.lesson_id not in lessons]
    assert others


def test_distributions_are_plausible(world: World) -> None:
    recs = world.canonical("school-1", "netschool")
    marks = [r for r in recs if isinstance(r, Mark)]
    values = Counter(m.value for m in marks)
    assert values[MarkValue.FOUR] + values[MarkValue.FIVE] > values[MarkValue.TWO] * 5
    assert MarkValue.ONE not in values
    kinds = Counter(m.work_type for m in marks)
    assert "answer" in kinds and "test" in kinds and "dictation" in kinds
    assert all(m.weight == WORK_TYPES[m.work_type].default_weight for m in marks)
    lessons = [r for r in recs if isinstance(r, Lesson)]
    hw = {h.lesson_id for h in recs if isinstance(h, Homework)}
    graded = [le for le in lessons if le.id in {m.lesson_id for m in marks}]
    assert 0.35 < len(hw) / len(graded) < 0.65
    att = [r for r in recs if isinstance(r, Attendance)]
    slots = sum(
        len(world.groups[world.lessons[int(le.provenance.external_ids["id"])].group_id].member_ids)
        for le in lessons
        if le.provenance
    )
    assert 0.015 < len(att) / slots < 0.05
    assert Counter(a.code for a in att).most_common(1)[0][0] is AttendanceCode.ABSENT
    assert any(not a.password.isascii() for a in world.accounts())


def test_topics_come_from_the_groups_ktp_in_order(world: World) -> None:
    g = next(iter(world.groups.values()))
    topics = [world.lessons[lid].topic for lid in g.lesson_ids]
    assert topics == [t.name for t in g.ktp[: len(topics)]]


def test_mark_ordinals_follow_assignment_ids(world: World) -> None:
    lesson = next(
        le
        for le in world.lessons.values()
        if sum(a.work_type == "answer" for a in world.lesson_assignments(le)) == 1
    )
    st = world.groups[lesson.group_id].member_ids[0]
    first = world.set_mark(lesson.ext_id, st, "answer", MarkValue.FIVE)
    second = world.create_assignment(lesson.ext_id, "answer").ext_id
    world.set_mark(lesson.ext_id, st, "answer", MarkValue.THREE, assignment=second)
    assert first < second
    recs = world.canonical("school-1", "netschool")
    mine = {
        (m.ordinal, m.value)
        for m in recs
        if isinstance(m, Mark)
        and m.provenance
        and m.provenance.external_ids["student"] == str(st)
        and int(m.provenance.external_ids["assignment"]) in (first, second)
    }
    assert mine == {(1, MarkValue.FIVE), (2, MarkValue.THREE)}


def test_final_marks_only_for_quarters_ended_before_today() -> None:
    short = World.generate(3, SMALL)
    assert not [r for r in short.canonical("school-1", "x") if isinstance(r, FinalMark)]
    # week 9 from the week of 1 September (31 August) ends after the 1st quarter (25 October)
    long = World.generate(3, WorldSize(grades=(5,), letters=1, students_per_class=5, weeks=9))
    assert long.today == date(2026, 10, 31)
    finals = [r for r in long.canonical("school-1", "x") if isinstance(r, FinalMark)]
    assert finals and {f.value for f in finals} <= {MarkValue(str(n)) for n in range(2, 6)}


def test_mutations_bump_version_and_show_in_canonical() -> None:
    w = World.generate(9, SMALL)
    before = w.canonical("school-1", "netschool")
    v0 = w.version
    changes = w.mutate_random(random.Random(1), 6)
    assert len(changes) == 6 and w.version > v0
    changed = list(w.changed_lessons(v0))
    assert changed and all(le.updated > v0 for le in changed)
    after = w.canonical("school-1", "netschool")
    assert set(hashes(before)) != set(hashes(after))
    le = changed[0]
    w.set_topic(le.ext_id, "Новая тема")
    w.set_attendance(le.ext_id, w.groups[le.group_id].member_ids[0], AttendanceCode.LATE)
    hw = w.set_homework(le.ext_id, "§ 12")
    assert w.assignments[hw].name == "§ 12" and le.updated == w.version


def test_thousand_students_four_weeks() -> None:
    # Generation speed is measured, not asserted here (no timed tests): ~0.2 s on one core.
    size = WorldSize(letters=4, students_per_class=23)  # 11 × 4 × 23 = 1012 students
    w = World.generate(1, size)
    recs = w.canonical("school-1", "netschool")
    assert sum(1 for r in recs if isinstance(r, Person) and r.roles == ("student",)) == 1012


def test_no_lessons_in_the_holidays_between_quarters() -> None:
    w = World.generate(5, WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=20))
    periods = w.school("school-1").periods
    days = {le.day for le in w.lessons.values()}
    assert all(any(p.start <= d <= p.end for p in periods) for d in days)
    assert not [d for d in days if date(2026, 10, 26) <= d <= date(2026, 11, 4)]  # autumn
    assert not [d for d in days if date(2026, 12, 29) <= d <= date(2027, 1, 11)]  # winter
    assert date(2026, 10, 23) in days and date(2026, 11, 5) in days


def test_lessons_start_on_the_first_school_day() -> None:
    """1 September, or the Monday after it when it is a day off; never before it; the 1st
    quarter and the year start on 1 September all the same."""
    cases = {
        2026: date(2026, 9, 1),  # Tuesday
        2024: date(2024, 9, 2),  # Sunday → Monday
        2029: date(2029, 9, 3),  # Saturday → Monday
        2025: date(2025, 9, 1),  # Monday
    }
    for year, first in cases.items():
        size = WorldSize(grades=(5,), letters=1, students_per_class=2, weeks=2, start_year=year)
        w = World.generate(5, size)
        days = sorted({le.day for le in w.lessons.values()})
        assert days[0] == first, year
        # every weekday from the first school day through the second week has lessons
        monday = first - timedelta(days=first.weekday())
        weekdays = [monday + timedelta(days=i) for i in range(12) if i % 7 < 5]
        assert days == [d for d in weekdays if d >= first], year
        school = w.school("school-1")
        assert school.periods[0].start == school.year.start == date(year, 9, 1)
        assert w.today == monday + timedelta(days=12)  # the second week's Saturday
    # a clock reading in the first week gives that week, from the first school day
    tiny = WorldSize(grades=(5,), letters=1, students_per_class=2)
    w = World.generate(5, tiny, today=date(2026, 9, 3))
    assert sorted({le.day for le in w.lessons.values()}) == [date(2026, 9, d) for d in (1, 2, 3, 4)]


def test_an_injected_today_gives_the_current_week() -> None:
    today = date(2027, 2, 17)  # a Wednesday of the 3rd quarter
    w = World.generate(5, WorldSize(grades=(5,), letters=1, students_per_class=3), today=today)
    assert w.today == today and w.size.start_year == 2026
    monday = today - timedelta(days=today.weekday())
    week = {le.day for le in w.lessons.values() if monday <= le.day <= monday + timedelta(days=6)}
    assert week == {monday + timedelta(days=i) for i in range(5)}  # Mon–Fri of that week
    assert max(le.day for le in w.lessons.values()) <= monday + timedelta(days=6)
    # in the summer the year just ended; from August the coming one
    tiny = WorldSize(grades=(5,), letters=1, students_per_class=1)
    assert World.generate(5, tiny, today=date(2027, 7, 1)).size.start_year == 2026
    assert World.generate(5, tiny, today=date(2027, 8, 20)).size.start_year == 2027
