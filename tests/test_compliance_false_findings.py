"""False findings seen on hand-seeded worlds: each test fails on the code before the fix.

* Ruobr shows finals only once a period is closed: a final first seen on the closing day is
  not "late" — its entry time is not observable, the timing part is «не проверено».
* A pupil moved between subgroups keeps the marks of the old subgroup: marks are counted per
  pupil × subject × period, not per subgroup through today's roster.
* NetSchool work type 2 «Тематическая работа» is a real work type, not "other".
* АВЕРС carries «У» (code 104): a late «Н» → «У» correction is a finding, checked in full.
"""

from __future__ import annotations

from datetime import date, timedelta

from test_compliance_world import SCHOOL, World, absent, at, build, prov

from connectors.avers.connector import AversConnector
from connectors.avers.mapping import journal_code_table
from connectors.netschool.mapping import work_type_table
from connectors.ruobr.connector import RuobrConnector
from core.codes import AttendanceCode
from core.compliance import ChangeEvent
from core.model import FinalMark, Group, Lesson, Mark

# -- Ruobr finals: visible only once the period is closed -----------------------------------


def _finals_first_seen_after_close(w: World) -> int:
    """Every final "first seen" two days after the 1st quarter closed, as a pull sees them."""
    finals = w.of(FinalMark)
    for fm in finals:
        w.replace(fm, provenance=prov(at(date(2025, 10, 26), "09:00")))
    return len(finals)


def test_ruobr_finals_first_seen_on_closing_are_not_late() -> None:
    w = build()
    n = _finals_first_seen_after_close(w)
    assert n == 4
    result = w.check("ruobr-school106", caps=RuobrConnector.capabilities)
    assert "finals.deadline" in result.checked
    assert result.by_rule()["finals.deadline"] == []
    notes = [x.reason for x in result.not_checked if x.rule == "finals.deadline"]
    assert notes and all("не проверен" in r and "Ruobr" in r for r in notes), notes


def test_ruobr_missing_final_is_still_found() -> None:
    w = build()
    _finals_first_seen_after_close(w)
    w.drop(lambda r: r is w.of(FinalMark)[0])
    result = w.check("ruobr-school106", caps=RuobrConnector.capabilities)
    assert [f.message for f in result.by_rule()["finals.deadline"]] == [
        "итоговая отметка за период не выставлена"
    ]


def test_ruobr_capabilities_say_finals_entry_time_is_not_observable() -> None:
    from core.connector import EntryTimeKind  # here: the suite must import on the old code

    et = RuobrConnector.capabilities.entry_time
    assert et["final_mark"].kind is EntryTimeKind.NOT_OBSERVABLE
    assert et["mark"].kind is EntryTimeKind.FIRST_SEEN


def test_a_platform_that_can_observe_finals_still_reports_them_late() -> None:
    w = build()
    _finals_first_seen_after_close(w)
    assert w.count("finals.deadline", "ruobr-school106") == 4  # no capabilities: times trusted


# -- subgroup moves ---------------------------------------------------------------------------


def _split_with_move(w: World) -> tuple[Group, Group]:
    """5А's mathematics split into two subgroups; Борисова, Васильев and Григорьева were in
    subgroup 1 for the 1st quarter (their marks are there) and moved to subgroup 2 at its end.
    Today's roster: subgroup 1 = Алексеев, subgroup 2 = the three moved pupils."""
    g = w.of(Group)[0]
    st = w.students("5А")
    sub1 = w.replace(g, member_ids=(st[0].id,))  # same id: the key has no members
    sub2 = Group(
        school=SCHOOL,
        class_id=g.class_id,
        subject_id=g.subject_id,
        subgroup=2,
        teacher_ids=g.teacher_ids,
        member_ids=tuple(s.id for s in st[1:]),
    )
    w.add(sub2)
    for le in w.lessons("5А"):
        if le.group_id == g.id:
            w.add(
                Lesson(
                    school=SCHOOL,
                    group_id=sub2.id,
                    date=le.date,
                    number=3,
                    topic=le.topic,
                    teacher_id=le.teacher_id,
                    start_time=le.start_time,
                    end_time=le.end_time,
                    provenance=le.provenance,
                )
            )
    return sub1, sub2  # type: ignore[return-value]


def test_pupils_moved_between_subgroups_keep_their_marks() -> None:
    w = build()
    _split_with_move(w)
    assert len(w.students("5А")) == 4
    result = w.check("all")
    assert result.by_rule()["marks.accumulation"] == []
    assert result.by_rule()["marks.none_or_single"] == []
    assert w.check("avers-gymn24").by_rule()["marks.frequency"] == []


def test_moved_pupil_with_too_few_marks_is_counted_once_with_all_marks() -> None:
    w = build()
    _split_with_move(w)
    st = w.students("5А")
    extra = w.marks_of(st[1])[2:]  # Борисова keeps 2 marks (in her old subgroup)
    w.drop(lambda r: r in extra)
    findings = w.check("all").by_rule()["marks.accumulation"]
    assert [(f.student, f.value, f.limit) for f in findings] == [("Борисова У.", 2, 3)]


# -- NetSchool work type 2 --------------------------------------------------------------------


def test_netschool_thematic_work_is_not_other() -> None:
    code = work_type_table().lookup(2)
    assert code != "other"
    w = build()
    first = w.of(Mark)[0]
    w.replace(first, work_type=code)
    assert w.count("marks.work_type", "netschool-sosh63") == 0


# -- АВЕРС «У» ---------------------------------------------------------------------------------


def test_avers_excused_code_and_late_reason_fix_is_found_in_full() -> None:
    assert journal_code_table().lookup(104) is AttendanceCode.EXCUSED
    w = build()
    w.history = {"attendance", "group", "lesson", "mark"}
    le = w.lessons("5А")[9]  # Wed 1.10; back Thu 2.10, due Mon 6.10
    st = w.students("5А")[0]
    a = absent(w, st, le, AttendanceCode.EXCUSED)
    w.changes.append(
        ChangeEvent(
            "attendance",
            a.id,
            at(le.date + timedelta(days=9), "10:00"),
            "updated",
            {**a.data(), "code": "absent"},
            a.data(),
        )
    )
    result = w.check("all", caps=AversConnector.capabilities)
    assert [f.value for f in result.by_rule()["attendance.reason_fix"]] == [6]
    assert not [n for n in result.not_checked if n.rule == "attendance.reason_fix"]
