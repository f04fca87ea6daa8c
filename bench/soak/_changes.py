"""The local entries a reconcile / push cell starts from: a new mark and a new absence."""

from __future__ import annotations

from core.codes import WORK_TYPES, AttendanceCode, MarkValue
from core.model import Attendance, Lesson, Mark, Person, Record
from core.store import Store

__all__ = ["NEW_WORK_TYPE", "local_changes", "many_changes"]

#: A work type the soak world hardly uses: a mark of it makes the platform create an assignment
#: (on NetSchool: a quickedit with no assignId), the write a retried request could double.
NEW_WORK_TYPE = "essay"


def local_changes(store: Store, school: str, platform: str) -> list[Record]:
    """A mark and an absence for two unmarked members of the latest lesson that has them.

    Members of a group are taken as the students with any mark or absence in its lessons (the
    snapshot has no enrolment on every platform), as the conformance suite does.
    """
    remote = list(store.remote_records(school, platform))
    students = {p.id for p in remote if isinstance(p, Person) and "student" in p.roles}
    marked = {(m.lesson_id, m.student_id) for m in remote if isinstance(m, Mark)}
    absent = {(a.lesson_id, a.student_id) for a in remote if isinstance(a, Attendance)}
    lessons = sorted((le for le in remote if isinstance(le, Lesson)), key=lambda x: (x.date, x.id))
    group_of = {le.id: le.group_id for le in lessons}
    members: dict[str, set[str]] = {}
    for lesson_id, student in marked | absent:
        members.setdefault(group_of.get(lesson_id, ""), set()).add(student)
    for le in reversed(lessons):
        free = sorted(
            s
            for s in members.get(le.group_id, set()) & students
            if (le.id, s) not in marked and (le.id, s) not in absent
        )
        if len(free) >= 2:
            return [
                Mark(
                    school=school,
                    student_id=free[0],
                    lesson_id=le.id,
                    work_type=NEW_WORK_TYPE,
                    weight=WORK_TYPES[NEW_WORK_TYPE].default_weight,
                    value=MarkValue.FIVE,
                ),
                Attendance(
                    school=school, student_id=free[1], lesson_id=le.id, code=AttendanceCode.ILL
                ),
            ]
    raise RuntimeError("no lesson with two unmarked students in the soak world")


def many_changes(store: Store, school: str, platform: str, n: int) -> list[Record]:
    """``n`` new marks on distinct lessons (newest first), each for an unmarked member."""
    remote = list(store.remote_records(school, platform))
    marked = {(m.lesson_id, m.student_id) for m in remote if isinstance(m, Mark)}
    absent = {(a.lesson_id, a.student_id) for a in remote if isinstance(a, Attendance)}
    lessons = sorted((le for le in remote if isinstance(le, Lesson)), key=lambda x: (x.date, x.id))
    group_of = {le.id: le.group_id for le in lessons}
    members: dict[str, set[str]] = {}
    for lesson_id, student in marked | absent:
        members.setdefault(group_of.get(lesson_id, ""), set()).add(student)
    out: list[Record] = []
    for le in reversed(lessons):
        free = sorted(
            s
            for s in members.get(le.group_id, set())
            if (le.id, s) not in marked and (le.id, s) not in absent
        )
        if free:
            out.append(
                Mark(
                    school=school,
                    student_id=free[0],
                    lesson_id=le.id,
                    work_type=NEW_WORK_TYPE,
                    weight=WORK_TYPES[NEW_WORK_TYPE].default_weight,
                    value=MarkValue.FOUR,
                )
            )
        if len(out) == n:
            break
    return out
