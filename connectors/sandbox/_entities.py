"""The mutable entities a :class:`~connectors.sandbox.world.World` is made of.

Platform-neutral: every entity has an ``ext_id`` (an int unique across the whole world) that an
emulator shows as its platform id. Mutable on purpose: emulators' write endpoints change them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.codes import AttendanceCode, MarkValue


@dataclass(frozen=True, slots=True)
class YearInfo:
    ext_id: int
    start_year: int
    start: date
    end: date

    @property
    def name(self) -> str:
        return f"{self.start_year}/{self.start_year + 1}"


@dataclass(frozen=True, slots=True)
class PeriodInfo:
    ext_id: int
    ordinal: int
    name: str
    start: date
    end: date


@dataclass(slots=True)
class SchoolInfo:
    ext_id: int
    slug: str
    number: int
    name: str
    short_name: str
    inn: str
    ogrn: str
    region: str
    city: str
    address: str
    year: YearInfo
    periods: list[PeriodInfo]
    admin_id: int = 0
    class_ids: list[int] = field(default_factory=list)
    subject_ids: list[int] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class PersonInfo:
    """A student, guardian, teacher or administrator (завуч). One account each."""

    ext_id: int
    school: str
    role: str  # "student" | "guardian" | "teacher" | "admin"
    last_name: str
    first_name: str
    middle_name: str
    gender: str  # "m" | "f"
    birth_date: date | None
    login: str = ""
    password: str = ""
    class_id: int | None = None  # students
    children: list[int] = field(default_factory=list)  # guardians
    guardian_ids: list[int] = field(default_factory=list)  # students

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def short_name(self) -> str:
        initials = "".join(f" {n[0]}." for n in (self.first_name, self.middle_name) if n)
        return f"{self.last_name}{initials}"


@dataclass(slots=True)
class ClassInfo:
    ext_id: int
    school: str
    grade: int
    letter: str
    student_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    chief_id: int | None = None  # классный руководитель

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"


@dataclass(frozen=True, slots=True)
class SubjectInfo:
    ext_id: int
    school: str
    name: str


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """One line of a group's КТП (календарно-тематическое планирование)."""

    ext_id: int
    name: str


@dataclass(slots=True)
class GroupInfo:
    """Class × subject × subgroup. ``subgroup`` 0 = the whole class; members always listed."""

    ext_id: int
    school: str
    class_id: int
    subject_id: int
    subgroup: int
    weekly_hours: int
    teacher_ids: list[int]
    member_ids: list[int]
    ktp: list[TopicInfo] = field(default_factory=list)
    lesson_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimetableSlot:
    weekday: int  # 0 = Monday
    number: int  # lesson number in the day, 1-based
    group_ids: tuple[int, ...]  # subgroups of one class share a slot


@dataclass(slots=True)
class LessonInfo:
    ext_id: int
    group_id: int
    day: date
    number: int
    start_time: str
    end_time: str
    teacher_id: int
    topic: str = ""
    assignment_ids: list[int] = field(default_factory=list)
    attendance: dict[int, AttendanceCode] = field(default_factory=dict)
    updated: int = 0  # World.version at the last change of this lesson or anything under it


@dataclass(slots=True)
class AssignmentInfo:
    """A graded piece of work on a lesson, or homework (``work_type == "homework"``).

    Homework's ``name`` is its text. ``weight`` is the canonical float (1.0 = a plain answer).
    """

    ext_id: int
    lesson_id: int
    work_type: str
    name: str
    weight: float
    due_date: date
    marks: dict[int, MarkValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    """Credentials of one person. The admin (завуч) account sees the whole school."""

    role: str  # "student" | "guardian" | "teacher" | "admin"
    login: str
    password: str
    person_id: int
    school: str
