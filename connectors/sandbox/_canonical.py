"""The world's truth about one school as canonical records — what a full pull must equal.

Conventions every mapper follows (and conformance tests rely on):

* ``Person.key = f"{platform}:{ext_id}"``; the administrator (завуч) is a teacher.
* ``Group.member_ids`` is empty for a whole-class group (subgroup 0), listed for subgroups.
* ``Homework`` = an assignment of work type ``homework``; its text is the assignment's name;
  ``ordinal`` = position among the lesson's homework ordered by assignment ext id.
* ``Mark.ordinal`` = 1-based position among the lesson's assignments of the same work type ordered
  by assignment ext id; ``Mark.weight`` = the assignment's canonical weight; ``Mark.teacher_id``
  = the lesson's teacher (the one who can edit the lesson).
* Enrollments begin on the first day of the school year.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.codes import PeriodKind, Role
from core.model import (
    AcademicYear,
    Attendance,
    ClassUnit,
    Enrollment,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Period,
    Person,
    Provenance,
    Record,
    School,
    Subject,
)

if TYPE_CHECKING:
    from connectors.sandbox._state import WorldState as World

_ROLES = {
    "student": (Role.STUDENT,),
    "guardian": (Role.GUARDIAN,),
    "teacher": (Role.TEACHER,),
    "admin": (Role.TEACHER,),
}


def canonical(world: World, slug: str, platform: str) -> list[Record]:
    sch = world.schools[slug]

    def prov(**ids: int) -> Provenance:
        return Provenance(platform=platform, external_ids={k: str(v) for k, v in ids.items()})

    out: list[Record] = [
        School(
            school=slug,
            name=sch.name,
            region=sch.region,
            inn=sch.inn,
            ogrn=sch.ogrn,
            provenance=prov(id=sch.ext_id),
        )
    ]
    y = sch.year
    year = AcademicYear(
        school=slug, start_year=y.start_year, start=y.start, end=y.end, provenance=prov(id=y.ext_id)
    )
    out.append(year)
    periods: dict[int, Period] = {}
    for per in sch.periods:
        periods[per.ext_id] = Period(
            school=slug,
            year_id=year.id,
            kind=PeriodKind.QUARTER,
            ordinal=per.ordinal,
            start=per.start,
            end=per.end,
            name=per.name,
            provenance=prov(id=per.ext_id),
        )
    out.extend(periods.values())

    person_ids: dict[int, str] = {}
    for pid in sch.person_ids:
        p = world.persons[pid]
        rec = Person(
            school=slug,
            key=f"{platform}:{p.ext_id}",
            last_name=p.last_name,
            first_name=p.first_name,
            middle_name=p.middle_name,
            birth_date=p.birth_date,
            roles=_ROLES[p.role],
            provenance=prov(id=p.ext_id),
        )
        person_ids[pid] = rec.id
        out.append(rec)

    subjects: dict[int, str] = {}
    for sid in sch.subject_ids:
        s = world.subjects[sid]
        srec = Subject(school=slug, name=s.name, provenance=prov(id=sid))
        subjects[sid] = srec.id
        out.append(srec)

    for cid in sch.class_ids:
        c = world.classes[cid]
        cu = ClassUnit(
            school=slug, year_id=year.id, grade=c.grade, letter=c.letter, provenance=prov(id=cid)
        )
        out.append(cu)
        for st in c.student_ids:
            out.append(
                Enrollment(
                    school=slug,
                    student_id=person_ids[st],
                    class_id=cu.id,
                    begin=y.start,
                    provenance=prov(id=st),
                )
            )
        for gid in c.group_ids:
            g = world.groups[gid]
            grec = Group(
                school=slug,
                class_id=cu.id,
                subject_id=subjects[g.subject_id],
                subgroup=g.subgroup,
                teacher_ids=tuple(person_ids[t] for t in g.teacher_ids),
                member_ids=tuple(person_ids[m] for m in g.member_ids) if g.subgroup else (),
                provenance=prov(id=gid),
            )
            out.append(grec)
            for lid in g.lesson_ids:
                _lesson(world, out, slug, grec.id, lid, person_ids, prov)

    for (st, subj, pid_), value in sorted(world.final_marks.items()):
        if st in person_ids and pid_ in periods:
            out.append(
                FinalMark(
                    school=slug,
                    student_id=person_ids[st],
                    subject_id=subjects[subj],
                    period_id=periods[pid_].id,
                    value=value,
                )
            )
    return out


def _lesson(
    world: World,
    out: list[Record],
    slug: str,
    group_id: str,
    lid: int,
    person_ids: dict[int, str],
    prov: Callable[..., Provenance],
) -> None:
    le = world.lessons[lid]
    teacher = person_ids.get(le.teacher_id)
    lrec = Lesson(
        school=slug,
        group_id=group_id,
        date=le.day,
        number=le.number,
        topic=le.topic,
        teacher_id=teacher,
        start_time=le.start_time,
        end_time=le.end_time,
        provenance=prov(id=lid),
    )
    out.append(lrec)
    ordinals: dict[str, int] = {}
    for a in sorted(world.lesson_assignments(le), key=lambda a: a.ext_id):
        n = ordinals[a.work_type] = ordinals.get(a.work_type, 0) + 1
        if a.work_type == "homework":
            out.append(
                Homework(
                    school=slug,
                    lesson_id=lrec.id,
                    ordinal=n,
                    text=a.name,
                    due_date=a.due_date,
                    provenance=prov(id=a.ext_id),
                )
            )
        for st, value in sorted(a.marks.items()):
            out.append(
                Mark(
                    school=slug,
                    student_id=person_ids[st],
                    lesson_id=lrec.id,
                    work_type=a.work_type,
                    ordinal=n,
                    value=value,
                    weight=a.weight,
                    teacher_id=teacher,
                    provenance=prov(assignment=a.ext_id, student=st),
                )
            )
    for st, code in sorted(le.attendance.items()):
        out.append(
            Attendance(
                school=slug,
                student_id=person_ids[st],
                lesson_id=lrec.id,
                code=code,
                provenance=prov(student=st),
            )
        )
