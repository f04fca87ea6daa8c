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

Rendering goes through an :class:`Index` the emulator keeps (a group's lessons by week and term,
a lesson's cells, each child's slots), dropped whenever the world's version changes: the answers
are those of a render without it, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from connectors.sandbox.derived import Derived
from connectors.sandbox.world import (
    AssignmentInfo,
    GroupInfo,
    LessonInfo,
    PeriodInfo,
    PersonInfo,
    World,
)
from core.codes import WORK_TYPES, AttendanceCode, MarkValue, numeric_mark

__all__ = [
    "KRASNOYARSK",
    "PLACEHOLDER_BASE",
    "Index",
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
_COLOR_OF: dict[str, str] = {}  # subject name → its colour (a function of the name)
Corrupt = Callable[[str], bool]


def _iso(d: date) -> str:
    return d.isoformat()


def _color(name: str) -> str:
    color = _COLOR_OF.get(name)
    if color is None:
        color = _COLOR_OF[name] = _COLORS[sum(map(ord, name)) % len(_COLORS)]
    return color


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


@dataclass(slots=True)
class _GroupLessons:
    """One group's lessons as the renderer looks them up (built from ``lesson_ids``)."""

    count: int  # len(lesson_ids) when built
    by_week: dict[date, list[LessonInfo]]  # Monday → the week's lessons, in lesson_ids order
    first: dict[date, int]  # day → the number of the group's first lesson that day
    due: dict[date, list[int]] | None = None  # due day → homework ids (lesson_ids order)
    terms: dict[int, list[LessonInfo]] = field(default_factory=dict)  # by day and number
    class_numbers: dict[int, list[int]] = field(default_factory=dict)  # term → members' marks


@dataclass(slots=True)
class _LessonCells:
    """One lesson's cells as every child's slots need them."""

    stamp: str  # updated_at
    day: str
    homework: list[AssignmentInfo]  # in id order
    #: student → work type → mark values, in assignment id order
    marks: dict[int, dict[str, list[MarkValue]]]
    written: list[AssignmentInfo]  # written work, in id order (a pending cell's label)
    #: student → the student's slots (not kept for a corrupted answer)
    slots: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: the schedule item without ``slots`` (the same for every child) and the homework it adds
    #: (id, item, whether it replaces an item of that id — the lesson's own — or not)
    listing: tuple[dict[str, Any], list[tuple[int, dict[str, Any], bool]]] | None = None


class Index(Derived):
    """What the renderer would otherwise look up again for every child: a group's lessons by
    ISO week, by day and by term, its homework by due day, the class's marks of a term, and a
    lesson's cells (its assignments in id order, each student's marks, ``updated_at``).

    Answers are the same as without it: everything is dropped when the world's ``version`` (or
    ``today``) changes — the world changes through its methods, each of which bumps the version
    — and a group's lookups are rebuilt when its lesson count changes. The emulator keeps one
    for its world; a render call without one makes a fresh one (no reuse across calls).
    """

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self._groups: dict[int, _GroupLessons] = self.table()
        self._lessons: dict[int, _LessonCells] = self.table()

    def group(self, group: GroupInfo) -> _GroupLessons:
        self.fresh()
        known = self._groups.get(group.ext_id)
        if known is not None and known.count == len(group.lesson_ids):
            return known
        by_week: dict[date, list[LessonInfo]] = {}
        first: dict[date, int] = {}
        lessons = self.world.lessons
        for i in group.lesson_ids:
            le = lessons[i]
            by_week.setdefault(le.day - timedelta(days=le.day.weekday()), []).append(le)
            if le.day not in first or le.number < first[le.day]:
                first[le.day] = le.number
        view = self._groups[group.ext_id] = _GroupLessons(len(group.lesson_ids), by_week, first)
        return view

    def week(self, group: GroupInfo, monday: date) -> list[LessonInfo]:
        """The group's lessons from ``monday`` through Sunday, in ``lesson_ids`` order."""
        if monday.weekday() != 0:
            sunday = monday + timedelta(days=6)
            return [
                le
                for i in group.lesson_ids
                if monday <= (le := self.world.lessons[i]).day <= sunday
            ]
        return self.group(group).by_week.get(monday, [])

    def due(self, group: GroupInfo, view: _GroupLessons, day: date) -> list[int]:
        """The group's homework due on ``day``, in ``lesson_ids`` then assignment order."""
        if view.due is None:
            view.due = {}
            for i in group.lesson_ids:
                for a in self.world.lesson_assignments(self.world.lessons[i]):
                    if a.work_type == "homework" and a.due_date is not None:
                        view.due.setdefault(a.due_date, []).append(a.ext_id)
        return view.due.get(day, [])

    def term(self, group: GroupInfo, period: PeriodInfo) -> list[LessonInfo]:
        """The group's lessons in the term, by day and number."""
        view = self.group(group)
        own = view.terms.get(period.ext_id)
        if own is None:
            lessons = self.world.lessons
            own = [
                lessons[i] for i in group.lesson_ids if period.start <= lessons[i].day <= period.end
            ]
            own.sort(key=lambda le: (le.day, le.number))
            view.terms[period.ext_id] = own
        return own

    def class_numbers(self, group: GroupInfo, period: PeriodInfo) -> list[int]:
        """The numeric marks of the group's members in the group's lessons of the term."""
        own = self.term(group, period)
        view = self._groups[group.ext_id]
        known = view.class_numbers.get(period.ext_id)
        if known is None:
            known = view.class_numbers[period.ext_id] = _numbers(own, group.member_ids, self)
        return known

    def cells(self, lesson: LessonInfo) -> _LessonCells:
        self.fresh()
        known = self._lessons.get(lesson.ext_id)
        if known is None:
            given = sorted(self.world.lesson_assignments(lesson), key=lambda a: a.ext_id)
            marks: dict[int, dict[str, list[MarkValue]]] = {}
            for a in given:
                for sid, value in a.marks.items():
                    marks.setdefault(sid, {}).setdefault(a.work_type, []).append(value)
            known = self._lessons[lesson.ext_id] = _LessonCells(
                updated_at(self.world, lesson),
                _iso(lesson.day),
                [a for a in given if a.work_type == "homework"],
                marks,
                [a for a in given if WORK_TYPES[a.work_type].written],
            )
        return known


def updated_at(world: World, lesson: LessonInfo) -> str:
    if lesson.updated == 0:
        stamp = datetime.combine(lesson.day, time(15, 0), KRASNOYARSK)
    else:
        stamp = datetime.combine(world.today, time(18, 0), KRASNOYARSK) + timedelta(
            seconds=lesson.updated
        )
    return stamp.isoformat()


def slots(
    world: World,
    lesson: LessonInfo,
    student: int,
    corrupt: Corrupt | None = None,
    index: Index | None = None,
) -> list[dict[str, Any]]:
    """The student's cells on one lesson: one per kind of work, then the absence."""
    cells = (index or Index(world)).cells(lesson)
    if corrupt is None:
        known = cells.slots.get(student)
        if known is None:
            known = cells.slots[student] = _slots(lesson, cells, student)
        return known
    out = _slots(lesson, cells, student)
    for slot in out:
        if slot["mark"] and corrupt(f"schedule slot: lesson {lesson.ext_id} student {student}"):
            slot["mark"] = {"value": "Ъ"}  # no such mark value
    return out


def _slots(lesson: LessonInfo, cells: _LessonCells, student: int) -> list[dict[str, Any]]:
    stamp, day = cells.stamp, cells.day
    by_type = cells.marks.get(student, {})
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
    elif not out and lesson.ext_id % 5 == 0:
        # the first written work not marked for the student (none is marked: ``out`` is empty)
        pending = next((a for a in cells.written if student not in a.marks), None)
        if pending is not None:
            name = WORK_TYPES[pending.work_type].name
            out.append({"lesson_date": day, "mark": {}, "text": name, "updated_at": stamp})
    return out


def _average(values: list[int]) -> list[Any] | None:
    if not values:
        return None
    avg = sum(values) / len(values)
    return [f"{avg:.2f}".replace(".", ","), int(avg + 0.5)]


def _numbers(lessons: list[LessonInfo], students: list[int], index: Index) -> list[int]:
    """The numeric marks of ``students`` (each as often as listed) in ``lessons``."""
    times = Counter(students)
    out: list[int] = []
    for le in lessons:
        marks = index.cells(le).marks
        for sid, n in times.items():
            for values in marks.get(sid, {}).values():
                for value in values:
                    number = numeric_mark(value)
                    if number is not None:
                        out += [number] * n
    return out


def lesson_marks(
    world: World, st: PersonInfo, period: PeriodInfo, index: Index | None = None
) -> dict[str, Any]:
    index = index or Index(world)
    lessons: list[dict[str, Any]] = []
    for g in world.groups_of_student(st.ext_id):
        subject = world.subjects[g.subject_id].name
        own = index.term(g, period)
        lessons.append(
            {
                "id": g.ext_id,
                "color": _color(subject),
                "subject": subject,
                "slots": [slot for le in own for slot in slots(world, le, st.ext_id, None, index)],
                "averages": {
                    "for_student": _average(_numbers(own, [st.ext_id], index)),
                    "for_class": _average(index.class_numbers(g, period)),
                },
            }
        )
    return {"lessons": lessons}


def schedule(
    world: World,
    st: PersonInfo,
    monday: date,
    corrupt: Corrupt | None = None,
    index: Index | None = None,
) -> dict[str, Any]:
    index = index or Index(world)
    items: list[tuple[LessonInfo, GroupInfo]] = [
        (le, g) for g in world.groups_of_student(st.ext_id) for le in index.week(g, monday)
    ]
    items.sort(key=lambda x: (x[0].day, x[0].number, x[0].ext_id))
    out: list[dict[str, Any]] = []
    homeworks: dict[int, dict[str, Any]] = {}
    for le, g in items:
        entry, given = _listing(world, index, le, g)
        for hid, item, replaces in given:
            if replaces:
                homeworks[hid] = item
            else:
                homeworks.setdefault(hid, item)
        out.append({**entry, "slots": slots(world, le, st.ext_id, corrupt, index)})
    return {"schedule": out, "homeworks": list(homeworks.values())}


def _listing(
    world: World, index: Index, le: LessonInfo, g: GroupInfo
) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any], bool]]]:
    """A lesson's schedule item without ``slots`` and the homework items it brings."""
    cells = index.cells(le)
    if cells.listing is not None:
        return cells.listing
    subject = world.subjects[g.subject_id].name
    given: list[tuple[int, dict[str, Any], bool]] = []
    created: int | None = None
    if cells.homework:
        first = cells.homework[0]
        created = first.ext_id
        given.append((created, _homework(created, le.day, first.due_date, first.name), True))
    elif le.ext_id % 4 == 1:
        created = PLACEHOLDER_BASE + le.ext_id
        given.append((created, _homework(created, le.day, le.day, "Без задания"), True))
    # the group's homework due that day, shown on its first lesson of the day
    view = index.group(g)
    due = list(index.due(g, view, le.day)) if view.first[le.day] == le.number else []
    for aid in due:
        a = world.assignments[aid]
        item = _homework(aid, world.lessons[a.lesson_id].day, a.due_date, a.name)
        given.append((aid, item, False))
    teacher = world.persons.get(le.teacher_id)
    entry = {
        "lesson_event_id": le.ext_id,
        "subject": subject,
        "teacher": teacher.short_name if teacher else None,
        "color": _color(subject),
        "lesson_number": le.number,
        "lesson_date": cells.day,
        "from": le.start_time,
        "to": le.end_time,
        "theme": le.topic or "не указана",
        "created_homework_id": created,
        "homework_to_check_ids": due,
    }
    cells.listing = (entry, given)
    return cells.listing


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
