"""The АВЕРС emulator's view of the World: the positional rows each action answers.

Choices where the note is silent ([guess], repeated in WIRE.md):

* a lesson is shown as journal *columns*: the main column (id = the lesson's id) carries the
  topic and the first homework; every other assignment is a second column whose position 7
  names the main one (as in the captured diary, where a second column of a lesson points at the
  first); marks and attendance rows name their column in position 0;
* a whole-class subject has ``group_no`` 1; subgroups 1 and 2; ``GET_STUDENT_GROUPS`` (never
  captured) lists only subjects taught in subgroups; period marks carry the pupil's subgroup in
  position 0 (captured: 2 only for the split foreign language);
* ``GET_TIMETABLE`` uses the class id as ``class_key`` (the capture's keys did not match the
  student's class id; nothing public resolves them);
* values without a code are not shown: marks «точка», «н/а» in the journal and attendance «ОП»
  and «ОСВ» as attendance (the connector's capabilities say so); «ОСВ» (105) is shown as the mark
  «exempt», «У» (104) as excused attendance, as captured;
* ``GET_STUDENT_LESSONS`` rows and ``GET_JOURNAL_PERIODS_INFO`` / ``GET_CLASS_PER_SP`` are never
  captured: their layouts are older clients' or ours;
* the period marks are the World's quarter marks only (the captures also show half-years and
  «Промежуточная аттестация»; the World has no marks for them).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from connectors.sandbox.derived import Derived
from connectors.sandbox.world import AssignmentInfo, GroupInfo, LessonInfo, PersonInfo, World
from core.codes import WORK_TYPES, AttendanceCode, MarkValue

from .jsarray import JsValue

__all__ = [
    "PERIOD_DICTIONARY",
    "USER_ID_OFFSET",
    "YEAR_PERIOD",
    "Index",
    "attendance_cell",
    "mark_cell",
    "quarter_id",
]

USER_ID_OFFSET = 5_000_000  # login user ids differ from person ids, as in the capture
YEAR_PERIOD = 360004

# The platform's fixed period dictionary (note §5.3).
PERIOD_DICTIONARY: tuple[tuple[int, str], ...] = (
    (360000, "I четверть"),
    (360001, "II четверть"),
    (360002, "III четверть"),
    (360003, "IV четверть"),
    (360004, "Год"),
    (360005, "Административная к/р 1"),
    (360006, "Административная к/р 2"),
    (360011, "I полугодие"),
    (360012, "II полугодие"),
    (360013, "I семестр"),
    (360014, "II семестр"),
    (360015, "I триместр"),
    (360016, "II триместр"),
    (360017, "III триместр"),
    (360018, "Итоговая"),
    (360020, "Итоговая аттестация"),
    (360024, "Промежуточная аттестация"),
)

# (value shown, code) per canonical value (note §5.1).
_MARKS: dict[MarkValue, tuple[str, int]] = {
    **{MarkValue(str(n)): (str(n), n) for n in range(1, 6)},
    MarkValue.FAIL: ("Н/З", 101),
    MarkValue.EXEMPT: ("ОСВ", 105),
    MarkValue.PASS: ("ЗАЧТ", 106),
}
_ATTENDANCE: dict[AttendanceCode, tuple[str, int]] = {
    AttendanceCode.ILL: ("Б", 102),
    AttendanceCode.ABSENT: ("Н", 103),
    AttendanceCode.EXCUSED: ("У", 104),
}
_FINALS: dict[MarkValue, str] = {
    **{MarkValue(str(n)): str(n) for n in range(1, 6)},
    MarkValue.PASS: "зач",
    MarkValue.FAIL: "незач",
    MarkValue.EXEMPT: "осв",
    MarkValue.NOT_ATTESTED: "н/а",
    MarkValue.DOT: "точка",
}


def mark_cell(value: MarkValue) -> tuple[str, int] | None:
    return _MARKS.get(value)


def attendance_cell(code: AttendanceCode) -> tuple[str, int] | None:
    return _ATTENDANCE.get(code)


def quarter_id(ordinal: int) -> int:
    return 360000 + ordinal - 1


def group_no(group: GroupInfo) -> int:
    return group.subgroup or 1


def short_name(p: PersonInfo) -> str:
    """«Кузнецов К.К.» as the login row shows a person."""
    initials = "".join(f"{n[0]}." for n in (p.first_name, p.middle_name) if n)
    return f"{p.last_name} {initials}".strip()


class Columns:
    """A lesson's journal columns: (column id, assignment or None, main id or None)."""

    def __init__(self, world: World, lesson: LessonInfo) -> None:
        assignments = sorted(world.lesson_assignments(lesson), key=lambda a: a.ext_id)
        homework = [a for a in assignments if a.work_type == "homework"]
        self.main: AssignmentInfo | None = homework[0] if homework else None
        self.lesson = lesson
        self.extra = [a for a in assignments if a is not self.main]

    def __iter__(self) -> Iterator[tuple[int, AssignmentInfo | None, int | None]]:
        yield self.lesson.ext_id, self.main, None
        for a in self.extra:
            yield a.ext_id, a, self.lesson.ext_id


_Column = tuple[int, AssignmentInfo | None, int | None]


class Index(Derived):
    """What the answers read again and again, worked out once per :attr:`World.version` (every
    change of the World bumps it): each pupil's lessons in diary order and each lesson's
    columns. Answers are the same as a scan of the World's groups and assignments would give;
    marks, attendance, topics and names are read from the live objects at answer time."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self._lessons: dict[int, list[LessonInfo]] = self.table()
        self._columns: dict[int, list[_Column]] = self.table()

    def lessons(self, student: int) -> list[LessonInfo]:
        """The pupil's lessons of the whole year: by day, number, subgroup."""
        self.fresh()
        out = self._lessons.get(student)
        if out is None:
            world = self.world
            out = [
                world.lessons[lid] for g in world.groups_of_student(student) for lid in g.lesson_ids
            ]
            out.sort(key=lambda le: (le.day, le.number, world.groups[le.group_id].subgroup))
            self._lessons[student] = out
        return out

    def columns(self, lesson: LessonInfo) -> list[_Column]:
        self.fresh()
        out = self._columns.get(lesson.ext_id)
        if out is None:
            out = self._columns[lesson.ext_id] = list(Columns(self.world, lesson))
        return out


def lessons_of(ix: Index, student: int, begin: date, end: date) -> list[LessonInfo]:
    return [le for le in ix.lessons(student) if begin <= le.day <= end]


def diary_rows(ix: Index, student: int, begin: date, end: date) -> list[JsValue]:
    world = ix.world
    rows: list[JsValue] = []
    for le in lessons_of(ix, student, begin, end):
        g = world.groups[le.group_id]
        for col, a, main in ix.columns(le):
            is_hw = a is not None and a.work_type == "homework"
            homework: str | None = a.name if is_hw and a is not None else None
            if main is None and homework is None:
                homework = ""
            cell = mark_cell(a.marks[student]) if a and student in a.marks else None
            rows.append(
                [le.day, col, g.subject_id, le.topic, homework, cell[0] if cell else None,
                 group_no(g), main, None, le.teacher_id, 0, None]
            )  # fmt: skip
    return rows


def lesson_rows(ix: Index, student: int, begin: date, end: date) -> list[JsValue]:
    world = ix.world
    rows: list[JsValue] = []
    for le in lessons_of(ix, student, begin, end):
        g = world.groups[le.group_id]
        for col, a, main in ix.columns(le):
            kind = WORK_TYPES[a.work_type].name if a is not None else None
            weight = a.weight if a is not None else None
            text = a.name if a is not None and a.work_type == "homework" else None
            rows.append(
                [col, kind, le.day, weight, le.topic, g.subject_id, group_no(g), main, text,
                 weight]
            )  # fmt: skip
    return rows


def journal_rows(ix: Index, student: int, begin: date, end: date) -> list[JsValue]:
    """Marks and attendance of the whole year, by date (no filter on the platform)."""
    world = ix.world
    rows: list[list[JsValue]] = []
    for le in lessons_of(ix, student, begin, end):
        g = world.groups[le.group_id]
        code = le.attendance.get(student)
        att = attendance_cell(code) if code is not None else None
        if att is not None:
            rows.append([le.ext_id, student, att[0], le.day, g.subject_id, None, att[1], 0, None])
        for col, a, _main in ix.columns(le):
            value = a.marks.get(student) if a is not None else None
            cell = mark_cell(value) if value is not None else None
            if cell is not None:
                rows.append([col, student, cell[0], le.day, g.subject_id, None, cell[1], 0, None])
    return list(rows)


def director_rows(world: World, student: int, cls: int) -> list[JsValue]:
    school = world.schools[world.persons[student].school]
    quarters = {p.ext_id: quarter_id(p.ordinal) for p in school.periods}
    subgroup = {g.subject_id: group_no(g) for g in world.groups_of_student(student)}
    rows: list[JsValue] = []
    for (st, subject, period), value in sorted(world.final_marks.items()):
        if st == student and period in quarters:
            rows.append(
                [subgroup.get(subject, 1), quarters[period], st, _FINALS[value].ljust(6), subject,
                 cls]
            )  # fmt: skip
    return rows


def timetable_rows(world: World, school: str) -> list[JsValue]:
    rows: list[JsValue] = []
    n = 0
    for cid in world.schools[school].class_ids:
        for slot in world.timetable.get(cid, []):
            for gid in slot.group_ids:
                g = world.groups[gid]
                n += 1
                gym = world.subjects[g.subject_id].name == "Физическая культура"
                room = "Спортзал\n" if gym else str(100 + cid % 40)
                rows.append(
                    [n, cid, g.subject_id, group_no(g), None, slot.weekday + 1, slot.number, 1,
                     room, None, None]
                )  # fmt: skip
    return rows
