"""Each rule: a world that keeps it (no findings) and one that breaks it exactly N times."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.codes import AttendanceCode, MarkValue
from core.compliance import RULES, ChangeEvent, ProductionCalendar, get_profile
from core.model import FinalMark, Group, Homework, Lesson, Mark
from tests.core.compliance.test_compliance_world import (
    AS_OF,
    SCHOOL,
    World,
    absent,
    at,
    build,
    prov,
)

CURRICULUM = {(5, "Математика"): 2.0}


def test_the_base_world_keeps_every_rule() -> None:
    w = build()
    w.history = {"attendance", "group", "lesson", "mark"}
    result = w.check("all", curriculum=CURRICULUM)
    assert set(result.checked) == set(RULES)
    assert result.findings == ()
    assert result.not_checked == ()


@pytest.mark.parametrize(
    "profile",
    [
        "gymn2-krasnoyarsk",
        "skshi8-permkrai",
        "sosh63-altai",
        "school106-novokuznetsk",
        "gymn24-stavropol",
    ],
)
def test_every_profile_is_kept_by_the_base_world(profile: str) -> None:
    w = build()
    w.history = {"attendance", "group", "lesson", "mark"}
    result = w.check(profile, curriculum=CURRICULUM)
    assert result.findings == ()
    assert {u.rule for u in get_profile(profile).uses} == set(result.checked)


# -- accumulation ----------------------------------------------------------------------------


def _keep_marks(w: World, student_index: int, n: int) -> None:
    student = w.students("5А")[student_index]
    extra = w.marks_of(student)[n:]
    w.drop(lambda r: r in extra)


def test_accumulation_breaks_n_times() -> None:
    w = build()
    _keep_marks(w, 0, 2)
    _keep_marks(w, 1, 0)
    findings = w.check().by_rule()["marks.accumulation"]
    assert len(findings) == 2
    assert sorted(f.value for f in findings) == [0, 2]
    assert {f.limit for f in findings} == {3}
    assert {f.class_name for f in findings} == {"5А"} and findings[0].period == "1 четверть"


def test_accumulation_needs_more_marks_at_more_hours() -> None:
    w = build()
    _keep_marks(w, 2, 4)  # 4 marks: enough at 2 h, not at 4 h a week (3 + 2 = 5)
    assert w.count("marks.accumulation", curriculum=CURRICULUM) == 0
    assert w.count("marks.accumulation", curriculum={(5, "Математика"): 4.0}) == 1


def test_frequency_one_mark_per_four_lessons() -> None:
    w = build()
    _keep_marks(w, 0, 3)  # 16 lessons → at least 4 marks
    _keep_marks(w, 3, 4)
    findings = w.check("gymn24-stavropol").by_rule()["marks.frequency"]
    assert [(f.value, f.limit) for f in findings] == [(3, 4)]


def test_none_or_single_counts_students_with_zero_or_one_mark() -> None:
    w = build()
    _keep_marks(w, 0, 0)
    _keep_marks(w, 1, 1)
    _keep_marks(w, 2, 2)
    findings = w.check().by_rule()["marks.none_or_single"]
    assert sorted((f.value, f.message) for f in findings) == [
        (0, "нет отметок"),
        (1, "одна отметка"),
    ]


# -- entry deadlines ------------------------------------------------------------------------


def test_topic_deadline_by_shift_kiasuo() -> None:
    w = build()
    lessons = w.lessons("5А")
    w.replace(lessons[0], provenance=prov(at(lessons[0].date, "16:30")))  # after 15:00
    w.replace(lessons[1], provenance=prov(at(lessons[1].date, "14:59")))  # in time
    w.replace(lessons[2], topic="")  # never entered
    findings = w.check("gymn2-krasnoyarsk").by_rule()["lessons.topic_deadline"]
    assert sorted((f.day, f.value) for f in findings) == [
        (lessons[0].date, 1.5),
        (lessons[2].date, 0.0),
    ]
    assert findings[0].clause.endswith("п. 4.4.6") and findings[0].teacher == "Петрова А. И."


def test_topic_deadline_second_shift_is_later() -> None:
    w = build()
    le = w.lessons("5А")[0]
    w.replace(le, shift=2, provenance=prov(at(le.date, "19:30")))
    assert w.count("lessons.topic_deadline", "gymn2-krasnoyarsk") == 0


def test_topic_deadline_next_day_noon_avers_and_19_ruobr() -> None:
    w = build()
    le = w.lessons("5А")
    w.replace(le[0], provenance=prov(at(le[0].date + timedelta(days=1), "11:00")))
    w.replace(le[1], provenance=prov(at(le[1].date + timedelta(days=1), "12:30")))
    assert w.count("lessons.topic_deadline", "gymn24-stavropol") == 1
    assert w.count("lessons.topic_deadline", "school106-novokuznetsk") == 2


def test_homework_deadline_three_hours_after_the_shift() -> None:
    w = build()  # the 5А day ends at 13:30: homework is due by 16:30
    lessons = {le.id: le for le in w.of(Lesson)}
    hws = w.of(Homework)
    for h, hhmm in zip(hws[:4], ("16:45", "18:00", "21:00", "16:29"), strict=True):
        w.replace(h, provenance=prov(at(lessons[h.lesson_id].date, hhmm)))
    findings = w.check("sosh63-altai").by_rule()["homework.deadline"]
    assert sorted(f.value for f in findings) == [0.2, 1.5, 4.5]
    assert w.count("homework.deadline", "school106-novokuznetsk") == 1  # 19:00: only the 21:00 one


def test_homework_deadline_after_classes_perm() -> None:
    w = build()  # one hour after 13:30
    lessons = {le.id: le for le in w.of(Lesson)}
    for h in w.of(Homework)[:2]:
        w.replace(h, provenance=prov(at(lessons[h.lesson_id].date, "14:31")))
    assert w.count("homework.deadline", "skshi8-permkrai") == 2


def test_written_deadline_seven_days() -> None:
    w = build()
    marks = w.marks_of(w.students("5А")[0])
    lessons = {le.id: le for le in w.of(Lesson)}
    for m, days in zip(marks[:3], (8, 10, 7), strict=True):
        d = lessons[m.lesson_id].date
        w.replace(m, work_type="test", provenance=prov(at(d + timedelta(days=days))))
    findings = w.check().by_rule()["marks.written_deadline"]
    assert sorted(f.value for f in findings) == [8, 10]


def test_retroactive_created_late_and_changed_late() -> None:
    w = build()
    marks = w.marks_of(w.students("5А")[1])
    lessons = {le.id: le for le in w.of(Lesson)}
    d0, d1 = lessons[marks[0].lesson_id].date, lessons[marks[1].lesson_id].date
    w.replace(marks[0], provenance=prov(at(d0 + timedelta(days=5))))  # entered five days late
    w.replace(marks[1], provenance=prov(at(d1), at(d1 + timedelta(days=9))))  # changed on day 9
    w.replace(marks[2], provenance=prov(at(lessons[marks[2].lesson_id].date, "23:00")))  # in time
    findings = w.check("sosh63-altai").by_rule()["marks.retroactive"]
    assert sorted(f.value for f in findings) == [5, 9]
    assert w.count("marks.retroactive", "gymn24-stavropol") == 2


def test_retroactive_from_the_sync_change_history() -> None:
    """No platform times at all: a value change seen by the sync 10 days after the lesson."""
    w = build()
    w.records = [
        r.model_copy(update={"provenance": None}) if isinstance(r, Mark) else r for r in w.records
    ]
    m = w.of(Mark)[0]
    day = next(le.date for le in w.of(Lesson) if le.id == m.lesson_id)
    before = {**m.data(), "value": "3"}
    w.changes.append(
        ChangeEvent("mark", m.id, at(day + timedelta(days=10)), "updated", before, m.data())
    )
    w.changes.append(ChangeEvent("mark", "x", at(day), "inserted", None, m.data()))
    w.history = {"mark"}
    findings = w.check("sosh63-altai").by_rule()["marks.retroactive"]
    assert [f.value for f in findings] == [10]


def test_finals_deadline_two_days_before_the_end() -> None:
    w = build()
    finals = w.of(FinalMark)
    w.replace(finals[0], provenance=prov(at(date(2025, 10, 23), "09:00")))  # after 22.10
    w.replace(finals[1], provenance=prov(at(date(2025, 10, 22), "23:00")))  # in time
    w.drop(lambda r: r is finals[2])  # missing
    findings = w.check("gymn2-krasnoyarsk").by_rule()["finals.deadline"]
    assert sorted((f.value, f.message) for f in findings) == [
        (0, "итоговая отметка за период не выставлена"),
        (1, "итоговая отметка выставлена с опозданием на 1 дн."),
    ]


def test_finals_in_the_last_week_netschool() -> None:
    w = build()  # finals on 20.10 — inside the last week (18–24.10)
    assert w.count("finals.deadline", "sosh63-altai") == 0
    w.replace(w.of(FinalMark)[0], provenance=prov(at(date(2025, 10, 10))))
    assert w.count("finals.deadline", "sosh63-altai") == 1


def test_grade1_no_marks_or_homework() -> None:
    w = build()
    first = w.lessons("1А")
    kid = w.students("1А")[0]
    w.add(
        Mark(
            school=SCHOOL,
            student_id=kid.id,
            lesson_id=first[0].id,
            work_type="answer",
            value=MarkValue.FIVE,
        )
    )
    w.add(
        Mark(
            school=SCHOOL,
            student_id=kid.id,
            lesson_id=first[0].id,
            work_type="test",
            value=MarkValue.FOUR,
        )
    )
    w.add(Homework(school=SCHOOL, lesson_id=first[3].id, text="прочитать"))
    findings = w.check("school106-novokuznetsk").by_rule()["grade1.no_marks"]
    assert sorted((f.day, f.value) for f in findings) == [(first[0].date, 2), (first[3].date, 1)]
    assert {f.class_name for f in findings} == {"1А"}


def test_marks_without_work_type() -> None:
    w = build()
    for m in w.of(Mark)[:3]:
        w.replace(m, work_type="other")
    w.replace(w.of(Mark)[5], work_type="unknown-type")
    assert w.count("marks.work_type", "gymn2-krasnoyarsk") == 4


def test_absence_reason_fixed_within_two_working_days() -> None:
    w = build()
    w.history = {"attendance"}
    le = w.lessons("5А")
    st = w.students("5А")
    # Ill on Wed 1.10 (and absent in no other lesson): back Thu 2.10, due Mon 6.10 (2 w.d.)
    cases = [
        (st[0], le[9], date(2025, 10, 7)),
        (st[1], le[9], date(2025, 10, 6)),
        (st[2], le[10], date(2025, 10, 10)),
    ]
    for s, lesson, fixed in cases:
        a = absent(w, s, lesson, AttendanceCode.ILL)
        w.changes.append(
            ChangeEvent(
                "attendance",
                a.id,
                at(fixed, "10:00"),
                "updated",
                {**a.data(), "code": "absent"},
                a.data(),
            )
        )
    findings = w.check("sosh63-altai").by_rule()["attendance.reason_fix"]
    assert sorted((f.student, f.value) for f in findings) == [
        ("Алексеев У.", 3),
        ("Васильев У.", 3),
    ]


def test_reason_fix_is_not_checked_without_history() -> None:
    result = build().check("sosh63-altai")
    reasons = {n.rule: n.reason for n in result.not_checked}
    assert "attendance.reason_fix" in reasons and "нет истории" in reasons["attendance.reason_fix"]


def test_subgroup_moves_only_at_period_ends() -> None:
    w = build()
    w.history = {"group"}
    g = w.of(Group)[0]
    st = w.students("5А")
    sub = Group(
        school=SCHOOL,
        class_id=g.class_id,
        subject_id=g.subject_id,
        subgroup=1,
        member_ids=(st[0].id,),
    )
    w.add(sub)
    for moved, day in (
        (st[1], date(2025, 10, 1)),
        (st[2], date(2025, 10, 23)),
        (st[3], date(2025, 9, 5)),
        (st[3], date(2025, 9, 30)),
    ):
        before = sub.data()
        after = {**before, "member_ids": [*before["member_ids"], moved.id]}
        w.changes.append(ChangeEvent("group", sub.id, at(day), "updated", before, after))
    findings = w.check("gymn2-krasnoyarsk").by_rule()["groups.subgroup_moves"]
    assert sorted((f.student, f.day) for f in findings) == [
        ("Борисова У.", date(2025, 10, 1)),
        ("Григорьева У.", date(2025, 9, 30)),
    ]


def test_lesson_count_against_the_curriculum() -> None:
    w = build()
    assert w.count("lessons.curriculum_hours", curriculum=CURRICULUM) == 0
    findings = w.check(curriculum={(5, "Математика"): 3.0}).by_rule()["lessons.curriculum_hours"]
    assert [(f.value, f.limit) for f in findings] == [(16, 24)]
    drop = w.lessons("5А")[:3]
    w.drop(lambda r: r in drop)
    assert w.count("lessons.curriculum_hours", curriculum=CURRICULUM) == 1


# -- profiles, calendar ----------------------------------------------------------------------


def test_municipal_override_changes_a_parameter() -> None:
    w = build()
    _keep_marks(w, 0, 3)
    assert w.count("marks.accumulation", "gymn2-krasnoyarsk") == 0
    assert (
        w.count(
            "marks.accumulation", "gymn2-krasnoyarsk", overrides={"marks.accumulation": {"base": 4}}
        )
        == 1
    )


def test_override_of_an_unknown_parameter_is_a_config_error() -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown parameter"):
        get_profile("gymn2-krasnoyarsk", {"marks.accumulation": {"bsae": 4}})
    with pytest.raises(ConfigError, match="unknown compliance profile"):
        get_profile("nope")


def test_production_calendar_holidays_and_transferred_days() -> None:
    cal = ProductionCalendar()
    assert not cal.is_working_day(date(2025, 11, 3))  # moved from Saturday 1.11
    assert cal.is_working_day(date(2025, 11, 1))  # that Saturday works
    assert not cal.is_working_day(date(2026, 1, 9))
    assert cal.add_working_days(date(2025, 10, 31), 2) == date(2025, 11, 5)
    assert not cal.is_working_day(date(2027, 6, 14))  # statute: 12.06.2027 is a Saturday
    assert ProductionCalendar(extra_holidays=[date(2025, 10, 6)]).add_working_days(
        date(2025, 10, 3), 1
    ) == date(2025, 10, 7)


@pytest.mark.parametrize(("year", "working"), [(2023, 247), (2024, 248), (2025, 247), (2026, 247)])
def test_production_calendar_matches_the_published_yearly_norm(year: int, working: int) -> None:
    """The number of working days the published production calendars give for a 5-day week."""
    cal = ProductionCalendar()
    assert cal.working_days_between(date(year, 1, 1), date(year, 12, 31)) == working
    # each decree's moved days, one per year
    moved = {2023: date(2023, 2, 24), 2024: date(2024, 4, 29), 2025: date(2025, 6, 13)}
    if year in moved:
        assert not cal.is_working_day(moved[year])


def test_findings_name_school_clause_and_number() -> None:
    w = build()
    _keep_marks(w, 0, 1)
    f = w.check("gymn2-krasnoyarsk").by_rule()["marks.accumulation"][0]
    assert (f.school, f.class_name, f.subject, f.student, f.teacher) == (
        SCHOOL,
        "5А",
        "Математика",
        "Алексеев У.",
        "Петрова А. И.",
    )
    assert f.clause == "000_926632365ce7fa90.txt п. 5.2" and (f.value, f.limit) == (1, 3)
    assert AS_OF.date() > f.day if f.day else True
