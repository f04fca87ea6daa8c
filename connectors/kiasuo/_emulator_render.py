"""The World rendered as КИАСУО's family API shows it (note §4, current shape).

Choices where the note is silent or marked [?] (documented in WIRE.md):

* ``lesson_marks`` ``lessons[].id`` is the teaching group's id (one journal per subject group);
  every group of the child is listed, also without marks; ``averages`` use a decimal comma;
* a slot per kind of work per lesson: a student's marks in several assignments of one work type
  on a lesson are one cell, «4/5»; ``text`` is the work type's name; an absence is its own slot
  (Н, У, Б; lateness and release are not shown); a «точка» is «.»;
* a written work not yet marked shows as ``mark: {}`` on some lessons (the clients' defensive case);
* ``updated_at``: the lesson day at 15:00 (+07:00), or, once the lesson was edited, the world's
  today at 18:00 plus the world version in seconds, so later edits are later;
* ``created_homework_id`` names the lesson's first homework; some lessons without homework carry a
  «Без задания» placeholder (id 10⁹ + lesson id); ``homework_to_check_ids`` lists the group's
  homework due that day on its first lesson of the day;
* teachers of the child's groups are «Учителя» «ФИО (Предмет, …)», the deputy head is
  «Администрация»; classmates are «Фамилия Имя» (the full name where two would clash).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from connectors.sandbox.world import GroupInfo, LessonInfo, PeriodInfo, PersonInfo, World
from core.codes import WORK_TYPES, AttendanceCode, MarkValue, numeric_mark

__all__ = [
    "KRASNOYARSK",
    "PLACEHOLDER_BASE",
    "child",
    "lesson_marks",
    "recipients",
    "schedule",
    "school_classes",
    "student_marks",
    "study_periods",
    "user",
]

KRASNOYARSK = timezone(timedelta(hours=7))
PLACEHOLDER_BASE = 10**9
_ABSENCE = {AttendanceCode.ABSENT: "Н", AttendanceCode.EXCUSED: "У", AttendanceCode.ILL: "Б"}
_MARK_TEXT = {
    MarkValue.DOT: ".",
    MarkValue.PASS: "зач",
    MarkValue.FAIL: "незач",
    MarkValue.EXEMPT: "осв",
    MarkValue.NOT_ATTESTED: "н/а",
}
_COLORS = ("#e57373", "#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac", "#a1887f")
Corrupt = Callable[[str], bool]


def _iso(d: date) -> str:
    return d.isoformat()


def _color(name: str) -> str:
    return _COLORS[sum(map(ord, name)) % len(_COLORS)]


def _mark(value: MarkValue) -> str:
    return _MARK_TEXT.get(value, str(value))


def _age(person: PersonInfo, today: date) -> int | None:
    b = person.birth_date
    if b is None:
        return None
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def child(world: World, st: PersonInfo) -> dict[str, Any]:
    cls = world.classes[st.class_id] if st.class_id is not None else None
    return {
        "id": st.ext_id,
        "first_name": st.first_name,
        "last_name": st.last_name,
        "middle_name": st.middle_name,
        "school_class": cls.name if cls else "",
        "age": _age(st, world.today),
        "username": st.login,
        "can_create_login": False,
    }


def user(world: World, person: PersonInfo, children: list[PersonInfo]) -> dict[str, Any]:
    return {
        "id": person.ext_id,
        "username": person.login,
        "parent": person.role == "guardian",
        "vk_id": None,
        "unread_notices_count": 0,
        "children": [child(world, c) for c in children],
    }


def school_classes(world: World, st: PersonInfo) -> list[dict[str, Any]]:
    if st.class_id is None:
        return []
    sch = world.school(st.school)
    cls = world.classes[st.class_id]
    return [{"id": cls.ext_id, "name": cls.name, "ou": sch.name, "study_year": sch.year.name}]


def study_periods(world: World, st: PersonInfo) -> list[dict[str, Any]]:
    return [
        {"id": p.ext_id, "text": p.name, "from": _iso(p.start), "to": _iso(p.end)}
        for p in world.school(st.school).periods
    ]


def recipients(world: World, st: PersonInfo) -> dict[str, Any]:
    teaches: dict[int, list[str]] = {}
    for g in world.groups_of_student(st.ext_id):
        for t in g.teacher_ids:
            subject = world.subjects[g.subject_id].name
            if subject not in teaches.setdefault(t, []):
                teaches[t].append(subject)
    teachers = {
        f"{world.persons[t].full_name} ({', '.join(subjects)})": t
        for t, subjects in sorted(teaches.items())
    }
    admin = world.persons.get(world.school(st.school).admin_id)
    staff: dict[str, dict[str, int]] = {"Учителя": teachers}
    if admin is not None:
        staff["Администрация"] = {admin.full_name: admin.ext_id}
    students: dict[str, dict[str, Any]] = {}
    if st.class_id is not None:
        for sid in world.classes[st.class_id].student_ids:
            if sid == st.ext_id:
                continue
            mate = world.persons[sid]
            name = f"{mate.last_name} {mate.first_name}"
            students[mate.full_name if name in students else name] = {"parents": None, "id": sid}
    return {str(st.ext_id): {"staff": staff, "students": students}}


def updated_at(world: World, lesson: LessonInfo) -> str:
    if lesson.updated == 0:
        stamp = datetime.combine(lesson.day, time(15, 0), KRASNOYARSK)
    else:
        stamp = datetime.combine(world.today, time(18, 0), KRASNOYARSK) + timedelta(
            seconds=lesson.updated
        )
    return stamp.isoformat()


def slots(
    world: World, lesson: LessonInfo, student: int, corrupt: Corrupt | None = None
) -> list[dict[str, Any]]:
    """The student's cells on one lesson: one per kind of work, then the absence."""
    by_type: dict[str, list[MarkValue]] = {}
    pending: list[str] = []
    for a in sorted(world.lesson_assignments(lesson), key=lambda a: a.ext_id):
        if student in a.marks:
            by_type.setdefault(a.work_type, []).append(a.marks[student])
        elif WORK_TYPES[a.work_type].written:
            pending.append(WORK_TYPES[a.work_type].name)
    stamp = updated_at(world, lesson)
    day = _iso(lesson.day)
    out: list[dict[str, Any]] = [
        {
            "lesson_date": day,
            "mark": {"value": "/".join(_mark(v) for v in values)},
            "text": WORK_TYPES[wt].name,
            "updated_at": stamp,
        }
        for wt, values in by_type.items()
    ]
    code = lesson.attendance.get(student)
    if code in _ABSENCE:
        out.append(
            {"lesson_date": day, "mark": {"value": _ABSENCE[code]}, "text": "", "updated_at": stamp}
        )
    elif not out and pending and lesson.ext_id % 5 == 0:
        out.append({"lesson_date": day, "mark": {}, "text": pending[0], "updated_at": stamp})
    if corrupt is not None:
        for slot in out:
            if slot["mark"] and corrupt(f"schedule slot: lesson {lesson.ext_id} student {student}"):
                slot["mark"] = {"value": "Ъ"}  # no such mark value
    return out


def _average(values: list[int]) -> list[Any] | None:
    if not values:
        return None
    avg = sum(values) / len(values)
    return [f"{avg:.2f}".replace(".", ","), int(avg + 0.5)]


def _numbers(world: World, lessons: list[LessonInfo], students: list[int]) -> list[int]:
    out: list[int] = []
    for le in lessons:
        for a in world.lesson_assignments(le):
            for sid in students:
                n = numeric_mark(a.marks[sid]) if sid in a.marks else None
                if n is not None:
                    out.append(n)
    return out


def lesson_marks(world: World, st: PersonInfo, period: PeriodInfo) -> dict[str, Any]:
    lessons: list[dict[str, Any]] = []
    for g in world.groups_of_student(st.ext_id):
        subject = world.subjects[g.subject_id].name
        own = [
            world.lessons[i]
            for i in g.lesson_ids
            if period.start <= world.lessons[i].day <= period.end
        ]
        own.sort(key=lambda le: (le.day, le.number))
        lessons.append(
            {
                "id": g.ext_id,
                "color": _color(subject),
                "subject": subject,
                "slots": [slot for le in own for slot in slots(world, le, st.ext_id)],
                "averages": {
                    "for_student": _average(_numbers(world, own, [st.ext_id])),
                    "for_class": _average(_numbers(world, own, g.member_ids)),
                },
            }
        )
    return {"lessons": lessons}


def _due_here(world: World, group: GroupInfo, lesson: LessonInfo) -> list[int]:
    """Homework of the group due on the lesson's day, shown on its first lesson that day."""
    same_day = [world.lessons[i] for i in group.lesson_ids if world.lessons[i].day == lesson.day]
    if min(le.number for le in same_day) != lesson.number:
        return []
    return [
        a.ext_id
        for i in group.lesson_ids
        for a in world.lesson_assignments(world.lessons[i])
        if a.work_type == "homework" and a.due_date == lesson.day
    ]


def schedule(
    world: World, st: PersonInfo, monday: date, corrupt: Corrupt | None = None
) -> dict[str, Any]:
    sunday = monday + timedelta(days=6)
    items: list[tuple[LessonInfo, GroupInfo]] = [
        (world.lessons[i], g)
        for g in world.groups_of_student(st.ext_id)
        for i in g.lesson_ids
        if monday <= world.lessons[i].day <= sunday
    ]
    items.sort(key=lambda x: (x[0].day, x[0].number, x[0].ext_id))
    out: list[dict[str, Any]] = []
    homeworks: dict[int, dict[str, Any]] = {}
    for le, g in items:
        subject = world.subjects[g.subject_id].name
        given = [a for a in world.lesson_assignments(le) if a.work_type == "homework"]
        given.sort(key=lambda a: a.ext_id)
        created: int | None = None
        if given:
            created = given[0].ext_id
            homeworks[created] = _homework(created, le.day, given[0].due_date, given[0].name)
        elif le.ext_id % 4 == 1:
            created = PLACEHOLDER_BASE + le.ext_id
            homeworks[created] = _homework(created, le.day, le.day, "Без задания")
        due = _due_here(world, g, le)
        for aid in due:
            a = world.assignments[aid]
            homeworks.setdefault(
                aid, _homework(aid, world.lessons[a.lesson_id].day, a.due_date, a.name)
            )
        teacher = world.persons.get(le.teacher_id)
        out.append(
            {
                "lesson_event_id": le.ext_id,
                "subject": subject,
                "teacher": teacher.short_name if teacher else None,
                "color": _color(subject),
                "lesson_number": le.number,
                "lesson_date": _iso(le.day),
                "from": le.start_time,
                "to": le.end_time,
                "theme": le.topic or "не указана",
                "created_homework_id": created,
                "homework_to_check_ids": due,
                "slots": slots(world, le, st.ext_id, corrupt),
            }
        )
    return {"schedule": out, "homeworks": list(homeworks.values())}


def _homework(hid: int, given: date, due: date, text: str) -> dict[str, Any]:
    return {
        "id": hid,
        "lesson_date": _iso(given),
        "check_at": _iso(due),
        "text": text,
        "files": [],
        "links": [],
    }


def student_marks(world: World, st: PersonInfo) -> dict[str, Any]:
    periods = world.school(st.school).periods
    lessons = []
    seen: set[int] = set()
    for g in world.groups_of_student(st.ext_id):
        if g.subject_id in seen:
            continue
        seen.add(g.subject_id)
        subject = world.subjects[g.subject_id].name
        marks = {
            str(p.ext_id): _mark(v)
            for p in periods
            if (v := world.final_marks.get((st.ext_id, g.subject_id, p.ext_id))) is not None
        }
        lessons.append(
            {"id": g.ext_id, "subject": subject, "color": _color(subject), "marks": marks}
        )
    return {
        "lessons": lessons,
        "standard_mark_type": [
            {"id": p.ext_id, "text": p.name, "short_text": f"{p.ordinal}ч", "order_by": p.ordinal}
            for p in periods
        ],
    }
