"""The migration plan on canonical records: re-keying, adds/updates/conflicts, explained
differences with their reasons, and the certificate over a target that took the writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from core.codes import AttendanceCode, MarkValue, PeriodKind, Role
from core.connector import PushChannel
from core.migrate import build_plan, certificate, item_key, plan_from_json, plan_to_json
from core.model import (
    AcademicYear,
    Attendance,
    ClassUnit,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Period,
    Person,
    Record,
    Subject,
)
from core.platform import connector_class

SCHOOL = "school-1"
DAY = date(2026, 9, 7)


@dataclass
class M:
    entity: str
    source_id: str
    target_id: str | None
    state: str


def _roster(platform: str, ext: str) -> dict[str, list[Record]]:
    year = AcademicYear(
        school=SCHOOL, start_year=2026, start=date(2026, 9, 1), end=date(2027, 5, 31)
    )
    period = Period(
        school=SCHOOL, year_id=year.id, kind=PeriodKind.QUARTER, ordinal=1,
        start=date(2026, 9, 1), end=date(2026, 10, 31),
    )  # fmt: skip
    cls = ClassUnit(school=SCHOOL, year_id=year.id, grade=5, letter="А")
    subj = Subject(school=SCHOOL, name="Математика")
    pupils = [
        Person(school=SCHOOL, key=f"{platform}:{ext}{n}", last_name=f"Иванов{n}",
               first_name="Иван", roles=(Role.STUDENT,))
        for n in range(3)
    ]  # fmt: skip
    teacher = Person(
        school=SCHOOL, key=f"{platform}:t{ext}", last_name="Петрова", first_name="Анна",
        roles=(Role.TEACHER,),
    )  # fmt: skip
    group = Group(school=SCHOOL, class_id=cls.id, subject_id=subj.id, teacher_ids=(teacher.id,))
    lessons = [
        Lesson(school=SCHOOL, group_id=group.id, date=DAY, number=n, teacher_id=teacher.id)
        for n in (1, 2)
    ]
    return {
        "academic_year": [year],
        "period": [period],
        "class_unit": [cls],
        "subject": [subj],
        "person": [*pupils, teacher],
        "group": [group],
        "lesson": lessons,
    }


def _world() -> tuple[dict[str, list[Record]], dict[str, list[Record]], list[M]]:
    src = _roster("netschool", "1")
    tgt = _roster("perm", "9")
    matches = [
        M("person", s.id, t.id, "matched")
        for s, t in zip(src["person"], tgt["person"], strict=True)
    ]
    matches[2] = M("person", src["person"][2].id, None, "unmatched")
    for entity in ("academic_year", "period", "class_unit", "subject", "group"):
        matches.append(M(entity, src[entity][0].id, tgt[entity][0].id, "matched"))
    p = [x.id for x in src["person"]]
    le1, le2 = (x.id for x in src["lesson"])
    src["lesson"] = [src["lesson"][0].model_copy(update={"topic": "Дроби"}), src["lesson"][1]]
    src["mark"] = [
        Mark(school=SCHOOL, student_id=p[0], lesson_id=le1, work_type="independent",
             value=MarkValue.FIVE, weight=1.5),
        Mark(school=SCHOOL, student_id=p[1], lesson_id=le1, work_type="answer",
             value=MarkValue.FOUR, weight=1.0),
        Mark(school=SCHOOL, student_id=p[1], lesson_id=le2, work_type="answer",
             value=MarkValue.THREE, weight=1.0),
        # the pupil without a match: blocked
        Mark(school=SCHOOL, student_id=p[2], lesson_id=le1, work_type="answer",
             value=MarkValue.FIVE, weight=1.0),
    ]  # fmt: skip
    src["attendance"] = [
        Attendance(school=SCHOOL, student_id=p[0], lesson_id=le2, code=AttendanceCode.ILL),
        Attendance(school=SCHOOL, student_id=p[1], lesson_id=le2, code=AttendanceCode.LATE),
    ]
    src["homework"] = [Homework(school=SCHOOL, lesson_id=le1, text="№ 12")]
    src["final_mark"] = [
        FinalMark(school=SCHOOL, student_id=p[0], subject_id=src["subject"][0].id,
                  period_id=src["period"][0].id, value=MarkValue.FIVE),
    ]  # fmt: skip
    # The target already holds one mark: another value on the same slot (a conflict).
    q = [x.id for x in tgt["person"]]
    tle2 = tgt["lesson"][1].id
    tgt["mark"] = [
        Mark(school=SCHOOL, student_id=q[1], lesson_id=tle2, work_type="answer",
             value=MarkValue.TWO, weight=1.0),
    ]  # fmt: skip
    return src, tgt, matches


def _plan(target: str = "perm"):  # type: ignore[no-untyped-def]
    src, tgt, matches = _world()
    return (
        build_plan(
            school=SCHOOL,
            source={"binding": "old", "platform": "netschool"},
            target={"binding": "new", "platform": target},
            source_records=src,
            target_records=tgt,
            id_map={m.source_id: m.target_id for m in matches if m.target_id},
            source_capabilities=connector_class("netschool").capabilities,
            target_capabilities=connector_class(target).capabilities,
            matches=matches,
        ),
        src,
        tgt,
    )


def test_plan_rekeys_and_classifies_each_record() -> None:
    plan, _src, tgt = _plan()
    ops = {(i.entity, i.op) for i in plan.items}
    by = {(i.entity, i.op): i for i in plan.items}
    counts = plan.counts()
    # A lesson the target has without a topic: an update of the topic only.
    upd = by[("lesson", "update")]
    assert upd.fields == ("topic",) and upd.record is not None
    assert upd.record.id == tgt["lesson"][0].id  # the target's own lesson id
    assert counts["lesson"]["unchanged"] == 1
    # Marks land on the target's pupils and lessons.
    adds = [i for i in plan.items if i.entity == "mark" and i.op == "add"]
    target_people = {p.id for p in tgt["person"]}
    target_lessons = {le.id for le in tgt["lesson"]}
    assert len(adds) == 2
    for i in adds:
        assert i.record.student_id in target_people  # type: ignore[union-attr]
        assert i.record.lesson_id in target_lessons  # type: ignore[union-attr]
    # The target holds another value on one slot: a conflict, never written.
    conflict = by[("mark", "conflict")]
    assert conflict.fields == ("value",) and not conflict.writes
    # The unmatched pupil blocks its mark.
    assert by[("mark", "blocked")].why == "student"
    assert ("final_mark", "add") in ops
    assert counts["person"] == {"source": 4, "matched": 3, "needed": 1}
    # The plan reads back from its JSON.
    again = plan_from_json(plan_to_json(plan, plan_id="p1"))
    assert again.counts() == counts
    assert [i.record for i in again.items] == [i.record for i in plan.items]


def test_perm_explains_weights_and_absence_reasons() -> None:
    plan, _, _ = _plan("perm")
    marks = {i.record.work_type: i for i in plan.items if i.entity == "mark" and i.op == "add"}  # type: ignore[union-attr]
    weighted = marks["independent"]
    assert weighted.record.weight == 2.0  # type: ignore[union-attr]
    [why] = weighted.explained
    assert (why.field, why.source, why.target, why.reason.code) == (
        "weight",
        1.5,
        2.0,
        "weight_whole",
    )
    assert "perm.md §5" in why.reason.source
    att = {i.op: i for i in plan.items if i.entity == "attendance"}
    assert att["add"].record.code is AttendanceCode.ABSENT  # type: ignore[union-attr]
    assert att["add"].explained[0].reason.code == "attendance_reason"
    assert att["not_carried"].explained[0].reason.code == "attendance_late"
    assert plan.counts()["attendance"]["explained"] == {
        "attendance_late": 1,
        "attendance_reason": 1,
    }
    # ЭПОС takes homework through its hand-entry channels: a plain add there.
    hw = next(i for i in plan.items if i.entity == "homework")
    assert hw.op == "add" and hw.channel == PushChannel.WORKLIST.value


def test_netschool_refuses_homework_and_other_scales() -> None:
    src, tgt, matches = _world()
    src["mark"].append(
        Mark(school=SCHOOL, student_id=src["person"][0].id, lesson_id=src["lesson"][1].id,
             work_type="credit", value=MarkValue.PASS, weight=2.0)
    )  # fmt: skip
    plan = build_plan(
        school=SCHOOL,
        source={"platform": "perm"},
        target={"platform": "netschool"},
        source_records=src,
        target_records=tgt,
        id_map={m.source_id: m.target_id for m in matches if m.target_id},
        source_capabilities=connector_class("perm").capabilities,
        target_capabilities=connector_class("netschool").capabilities,
        matches=matches,
    )
    items = {(i.entity, i.op, getattr(i.record, "work_type", "")): i for i in plan.items}
    hw = next(i for i in plan.items if i.entity == "homework")
    assert hw.op == "not_carried"
    assert hw.explained[0].reason.code == "homework_not_writable"
    fm = next(i for i in plan.items if i.entity == "final_mark")
    assert fm.explained[0].reason.code == "final_not_writable"
    passed = next(i for i in plan.items if i.entity == "mark" and i.op == "not_carried")
    assert passed.explained[0].reason.code == "mark_scale"
    # NetSchool gives a new mark its type's weight: 1.5 for an independent work.
    indep = items[("mark", "add", "independent")]
    assert indep.record.weight == 1.5 and not indep.explained  # type: ignore[union-attr]
    assert indep.channel == PushChannel.API.value


def test_certificate_counts_what_the_target_shows() -> None:
    plan, _, tgt = _plan("perm")
    # The target took every write of the plan (as a fresh pull would show).
    after = {e: list(v) for e, v in tgt.items()}
    for i in plan.items:
        if i.writes and i.record is not None:
            after.setdefault(i.entity, [])
            after[i.entity] = [r for r in after[i.entity] if r.id != i.record.id] + [i.record]
    caps = connector_class("perm").capabilities
    statuses = {item_key("p1", i.record): "verified" for i in plan.items if i.writes and i.record}
    cert = certificate(
        plan, plan_id="p1", target_records=after, target_capabilities=caps,
        outbox_status=statuses,
    )  # fmt: skip
    mark = cert["entities"]["mark"]
    assert mark["source"] == 4 and mark["target"] == 3
    assert mark["matched"] == 1 and mark["explained"] == {"weight_whole": 1}
    assert mark["unexplained"] == 2  # the conflict and the blocked pupil, each listed
    whys = sorted(u["why"] for u in cert["unexplained"] if u["entity"] == "mark")
    assert whys[0].startswith("на целевой платформе другое значение")
    assert cert["entities"]["attendance"]["explained"] == {
        "attendance_late": 1,
        "attendance_reason": 1,
    }
    assert cert["complete"] is False
    # A hand-entry write the target does not show yet is awaited, not unexplained.
    hw_key = next(
        item_key("p1", i.record) for i in plan.items if i.entity == "homework" and i.record
    )
    statuses[hw_key] = "awaiting_entry"
    after["homework"] = []
    cert = certificate(
        plan, plan_id="p1", target_records=after, target_capabilities=caps,
        outbox_status=statuses,
    )  # fmt: skip
    assert cert["entities"]["homework"]["awaited"] == 1
    assert cert["entities"]["homework"]["unexplained"] == 0
    # Before apply nothing is sent: the writes are awaited, the conflict and the blocked mark
    # are not.
    before = certificate(
        plan, plan_id="p1", target_records=tgt, target_capabilities=caps, outbox_status={}
    )
    assert before["entities"]["mark"]["awaited"] == 2
    assert before["entities"]["mark"]["unexplained"] == 2
    # A write the platform refused is unexplained, with what the target shows instead.
    refused = dict(statuses)
    for i in plan.items:
        if i.entity == "mark" and i.op == "add" and i.record is not None:
            refused[item_key("p1", i.record)] = "failed"
    failed = certificate(
        plan, plan_id="p1", target_records=tgt, target_capabilities=caps, outbox_status=refused
    )
    assert failed["entities"]["mark"]["unexplained"] == 4
    assert "нет на целевой платформе" in {u["why"] for u in failed["unexplained"]}


@pytest.mark.parametrize("platform", ["perm", "netschool", "avers"])
def test_translation_tables_cite_their_evidence(platform: str) -> None:
    table = connector_class(platform).capabilities.migration
    reasons = [r.reason for r in table.rules] + list(table.not_writable.values())
    assert reasons
    for r in reasons:
        assert r.text and r.code and f"{platform}.md" in r.source


def test_epos_numbers_a_pupils_marks_of_one_work_type_from_one() -> None:
    src, tgt, matches = _world()
    p0, le2 = src["person"][0].id, src["lesson"][1].id
    # NetSchool numbers by the lesson's assignment slot: this pupil has a mark only in slot 2.
    src["mark"] = [
        Mark(school=SCHOOL, student_id=p0, lesson_id=le2, work_type="answer", ordinal=2,
             value=MarkValue.FIVE),
    ]  # fmt: skip
    plan = build_plan(
        school=SCHOOL,
        source={"platform": "netschool"},
        target={"platform": "perm"},
        source_records=src,
        target_records=tgt,
        id_map={m.source_id: m.target_id for m in matches if m.target_id},
        source_capabilities=connector_class("netschool").capabilities,
        target_capabilities=connector_class("perm").capabilities,
        matches=matches,
    )
    [item] = [i for i in plan.items if i.entity == "mark"]
    assert item.op == "add" and item.record.ordinal == 1  # type: ignore[union-attr]
    [why] = item.explained
    assert (why.field, why.source, why.target) == ("ordinal", 2, 1)
    assert why.reason.code == "ordinal_per_pupil"


def test_a_plan_with_explained_times_and_dates_is_json() -> None:
    """A lesson's start the target does not keep is explained with a ``time`` value: the plan
    file is still JSON (NetSchool → АВЕРС failed here with "time is not JSON serializable")."""
    import json
    from datetime import time

    from core.migrate import MigrationPlan, PlanItem
    from core.translation import DROP, Explained, Reason

    reason = Reason("not_carried:start_time", "время начала урока не хранится", "test")
    item = PlanItem(
        "lesson",
        "not_carried",
        "src-1",
        None,
        explained=(
            Explained("lesson", "src-1", "start_time", time(8, 30), DROP, reason),
            Explained("lesson", "src-1", "date", date(2026, 9, 1), (time(9, 0),), reason),
        ),
    )
    plan = MigrationPlan("s", {}, {}, items=[item], reasons={reason.code: reason})
    data = json.loads(json.dumps(plan_to_json(plan, plan_id="p1")))
    (first, second) = data["items"][0]["explained"]
    assert first["source"] == "08:30:00" and first["dropped"] is True
    assert second["source"] == "2026-09-01" and second["target"] == ["09:00:00"]
