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

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

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


class Index:
    """What the renderer would otherwise look up again for every child: a group's lessons by
    ISO week, by day and by term, its homework by due day, a lesson's assignments in id order
    and its ``updated_at``, a group's marks for the class average of a term.

    Answers are the same as without it: everything is dropped when the world's ``version`` (or
    ``today``) changes — the world changes through its methods, each of which bumps the version
    — and a group's lesson lists are rebuilt when its lesson count changes. The emulator keeps
    one for its world; a render call without one makes a fresh one (no reuse across calls).
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self._stamp: tuple[int, date] | None = None
        self._weeks: dict[int, tuple[int, dict[date, list[LessonInfo]]]] = {}
        self._first: dict[int, dict[date, int]] = {}
        self._due: dict[int, dict[date, list[int]]] = {}
        self._term: dict[tuple[int, int], list[LessonInfo]] = {}
        self._class_numbers: dict[tuple[int, int], list[int]] = {}
        self._lesson: dict[int, tuple[list[AssignmentInfo], str, str]] = {}

    def _fresh(self) -> None:
        stamp = (self.world.version, self.world.today)
        if stamp != self._stamp:
            self._stamp = stamp
            for cache in (
                self._weeks,
                self._first,
                self._due,
                self._term,
                self._class_numbers,
                self._lesson,
            ):
                cache.clear()

    def _by_week(self, group: GroupInfo) -> dict[date, list[LessonInfo]]:
        self._fresh()
        known = self._weeks.get(group.ext_id)
        if known is not None and known[0] == len(group.lesson_ids):
            return known[1]
        by_week: dict[date, list[LessonInfo]] = {}
        first: dict[date, int] = {}
        lessons = self.world.lessons
        for i in group.lesson_ids:
            le = lessons[i]
            by_week.setdefault(le.day - timedelta(days=le.day.weekday()), []).append(le)
            if le.day not in first or le.number < first[le.day]:
                first[le.day] = le.number
        if known is not None:  # the group's lessons changed: what was derived from them too
            self._due.pop(group.ext_id, None)
            for cache in (self._term, self._class_numbers):
                for key in [k for k in cache if k[0] == group.ext_id]:
                    del cache[key]
        self._weeks[group.ext_id] = (len(group.lesson_ids), by_week)
        self._first[group.ext_id] = first
        return by_week

    def week(self, group: GroupInfo, monday: date) -> list[LessonInfo]:
        """The group's lessons from ``monday`` through Sunday, in ``lesson_ids`` order."""
        if monday.weekday() != 0:
            sunday = monday + timedelta(days=6)
            return [
                le
                for i in group.lesson_ids
                if monday <= (le := self.world.lessons[i]).day <= sunday
            ]
        return self._by_week(group).get(monday, [])

    def first_number(self, group: GroupInfo, day: date) -> int:
        """The number of the group's first lesson on ``day`` (one of its lessons is that day)."""
        self._by_week(group)
        return self._first[group.ext_id][day]

    def due(self, group: GroupInfo, day: date) -> list[int]:
        """The group's homework due on ``day``: in ``lesson_ids`` then assignment order."""
        self._by_week(group)  # a changed lesson list drops the group's lessons (and this)
        by_day = self._due.get(group.ext_id)
        if by_day is None:
            by_day = self._due[group.ext_id] = {}
            for i in group.lesson_ids:
                for a in self.assignments(self.world.lessons[i], ordered=False):
                    if a.work_type == "homework" and a.due_date is not None:
                        by_day.setdefault(a.due_date, []).append(a.ext_id)
        return by_day.get(day, [])

    def term(self, group: GroupInfo, period: PeriodInfo) -> list[LessonInfo]:
        """The group's lessons in the term, by day and number."""
        self._by_week(group)
        key = (group.ext_id, period.ext_id)
        own = self._term.get(key)
        if own is None:
            lessons = self.world.lessons
            own = [
                lessons[i] for i in group.lesson_ids if period.start <= lessons[i].day <= period.end
            ]
            own.sort(key=lambda le: (le.day, le.number))
            self._term[key] = own
        return own

    def assignments(self, lesson: LessonInfo, *, ordered: bool = True) -> list[AssignmentInfo]:
        """The lesson's assignments, by id (``ordered``) or as listed on the lesson."""
        if not ordered:
            return self.world.lesson_assignments(lesson)
        return self._of(lesson)[0]

    def _of(self, lesson: LessonInfo) -> tuple[list[AssignmentInfo], str, str]:
        self._fresh()
        known = self._lesson.get(lesson.ext_id)
        if known is None:
            given = sorted(self.world.lesson_assignments(lesson), key=lambda a: a.ext_id)
            known = (given, updated_at(self.world, lesson), _iso(lesson.day))
            self._lesson[lesson.ext_id] = known
        return known

    def class_numbers(self, group: GroupInfo, period: PeriodInfo) -> list[int]:
        """The numeric marks of the group's members in the group's lessons of the term."""
        own = self.term(group, period)
        key = (group.ext_id, period.ext_id)
        known = self._class_numbers.get(key)
        if known is None:
            known = self._class_numbers[key] = _numbers(self.world, own, group.member_ids)
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
    given, stamp, day = (index or Index(world))._of(lesson)
    by_type: dict[str, list[MarkValue]] = {}
    pending: list[str] = []
    for a in given:
        value = a.marks.get(student)
        if value is not None:
            by_type.setdefault(a.work_type, []).append(value)
        elif not pending and WORK_TYPES[a.work_type].written:
            pending.append(WORK_TYPES[a.work_type].name)
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
    """The numeric marks of ``students`` (each as often as listed) in ``lessons``."""
    times = Counter(students)
    out: list[int] = []
    for le in lessons:
        for a in world.lesson_assignments(le):
            if len(a.marks) < len(times):
                pairs = [(a.marks[sid], times[sid]) for sid in a.marks if sid in times]
            else:
                pairs = [(a.marks[sid], n) for sid, n in times.items() if sid in a.marks]
            for value, n in pairs:
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
                    "for_student": _average(_numbers(world, own, [st.ext_id])),
                    "for_class": _average(index.class_numbers(g, period)),
                },
            }
        )
    return {"lessons": lessons}


def _due_here(index: Index, group: GroupInfo, lesson: LessonInfo) -> list[int]:
    """Homework of the group due on the lesson's day, shown on its first lesson that day."""
    if index.first_number(group, lesson.day) != lesson.number:
        return []
    return list(index.due(group, lesson.day))


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
        subject = world.subjects[g.subject_id].name
        given = [a for a in index.assignments(le) if a.work_type == "homework"]
        created: int | None = None
        if given:
            created = given[0].ext_id
            homeworks[created] = _homework(created, le.day, given[0].due_date, given[0].name)
        elif le.ext_id % 4 == 1:
            created = PLACEHOLDER_BASE + le.ext_id
            homeworks[created] = _homework(created, le.day, le.day, "Без задания")
        due = _due_here(index, g, le)
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
                "slots": slots(world, le, st.ext_id, corrupt, index),
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
