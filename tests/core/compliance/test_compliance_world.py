"""A small hand-made school that keeps every compliance rule, and ways to break each one.

Школа «s1», 2025/26, Москва (UTC+3). Class 5А (4 students) and 1А (2 students), one subject
«Математика» at 2 h a week (Monday, Wednesday) through the 1st quarter (1.09–24.10.2025, eight
full weeks, 16 lessons; the lesson, the day's last, ends at 13:30). Topics and homework are
entered at 14:00 on the lesson's day, a mark every other lesson for each 5А student at 14:00,
quarter finals on 20.10.2025. The check runs on 1.11.2025 (the 1st quarter over, the 2nd not
begun).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.codes import AttendanceCode, MarkValue, PeriodKind, Role
from core.compliance import ChangeEvent, check_frame, frame_from_records, get_profile
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

SCHOOL = "s1"
AS_OF = datetime(2025, 11, 1, 9, 0, tzinfo=UTC)
MSK = 3


def at(day: date, hhmm: str = "14:00") -> datetime:
    """A local (Moscow) wall-clock moment as an aware UTC datetime."""
    hh, mm = map(int, hhmm.split(":"))
    return datetime.combine(day, time(hh, mm), tzinfo=UTC) - timedelta(hours=MSK)


def prov(created: datetime | None = None, updated: datetime | None = None) -> Provenance:
    return Provenance(platform="test", created_at=created, updated_at=updated)


@dataclass
class World:
    records: list[Record] = field(default_factory=list)
    changes: list[ChangeEvent] = field(default_factory=list)
    history: set[str] = field(default_factory=set)

    def add(self, *recs: Record) -> None:
        self.records.extend(recs)

    def of(self, cls: type[Any]) -> list[Any]:
        return [r for r in self.records if isinstance(r, cls)]

    def drop(self, pred: Any) -> int:
        before = len(self.records)
        self.records = [r for r in self.records if not pred(r)]
        return before - len(self.records)

    def replace(self, rec: Record, **changes: Any) -> Record:
        new = replace_record(rec, **changes)
        self.records[self.records.index(rec)] = new
        return new

    def frame(self):  # type: ignore[no-untyped-def]
        return frame_from_records(SCHOOL, self.records, changes=self.changes, history=self.history)

    def check(
        self, profile: str = "all", *, curriculum=None, overrides=None, as_of=AS_OF, caps=None
    ):  # type: ignore[no-untyped-def]
        return check_frame(
            self.frame(),
            get_profile(profile, overrides),
            as_of=as_of,
            curriculum=curriculum,
            capabilities=caps,
        )

    def count(self, rule: str, profile: str = "all", **kw: Any) -> int:
        result = self.check(profile, **kw)
        assert rule in result.checked, [n.reason for n in result.not_checked if n.rule == rule]
        return len(result.by_rule()[rule])

    # -- lookups ---------------------------------------------------------------------------

    def students(self, class_name: str) -> list[Person]:
        cu = next(c for c in self.of(ClassUnit) if c.name == class_name)
        ids = {e.student_id for e in self.of(Enrollment) if e.class_id == cu.id}
        return [p for p in self.of(Person) if p.id in ids]

    def lessons(self, class_name: str) -> list[Lesson]:
        cu = next(c for c in self.of(ClassUnit) if c.name == class_name)
        groups = {g.id for g in self.of(Group) if g.class_id == cu.id}
        return sorted((le for le in self.of(Lesson) if le.group_id in groups), key=lambda x: x.date)

    def marks_of(self, student: Person) -> list[Mark]:
        return [m for m in self.of(Mark) if m.student_id == student.id]


def replace_record(rec: Record, **changes: Any) -> Record:
    data = {**rec.model_dump(), **changes}
    return type(rec).model_validate(data)


Q1 = (date(2025, 9, 1), date(2025, 10, 24))
Q2 = (date(2025, 11, 5), date(2025, 12, 28))


def school_days() -> list[date]:
    d, out = Q1[0], []
    while d <= Q1[1]:
        if d.weekday() in (0, 2):
            out.append(d)
        d += timedelta(days=1)
    return out


def build() -> World:
    w = World()
    w.add(School(school=SCHOOL, name="МБОУ «Школа № 1»"))
    year = AcademicYear(
        school=SCHOOL, start_year=2025, start=date(2025, 9, 1), end=date(2026, 5, 31)
    )
    w.add(year)
    q1 = Period(
        school=SCHOOL,
        year_id=year.id,
        kind=PeriodKind.QUARTER,
        ordinal=1,
        start=Q1[0],
        end=Q1[1],
        name="1 четверть",
    )
    q2 = Period(
        school=SCHOOL,
        year_id=year.id,
        kind=PeriodKind.QUARTER,
        ordinal=2,
        start=Q2[0],
        end=Q2[1],
        name="2 четверть",
    )
    w.add(q1, q2)
    teacher = Person(
        school=SCHOOL,
        key="t:1",
        last_name="Петрова",
        first_name="Анна",
        middle_name="Ивановна",
        roles=(Role.TEACHER,),
    )
    w.add(teacher)
    math = Subject(school=SCHOOL, name="Математика")
    w.add(math)
    names = ["Алексеев", "Борисова", "Васильев", "Григорьева", "Дмитриев", "Егорова"]
    people = [
        Person(school=SCHOOL, key=f"s:{i}", last_name=n, first_name="Ученик", roles=(Role.STUDENT,))
        for i, n in enumerate(names)
    ]
    w.add(*people)
    for grade, studs in ((5, people[:4]), (1, people[4:])):
        cu = ClassUnit(school=SCHOOL, year_id=year.id, grade=grade, letter="А")
        g = Group(school=SCHOOL, class_id=cu.id, subject_id=math.id, teacher_ids=(teacher.id,))
        w.add(cu, g)
        for s in studs:
            w.add(Enrollment(school=SCHOOL, student_id=s.id, class_id=cu.id, begin=Q1[0]))
        for n, d in enumerate(school_days()):
            le = Lesson(
                school=SCHOOL,
                group_id=g.id,
                date=d,
                number=2,
                topic=f"Тема {n + 1}",
                teacher_id=teacher.id,
                start_time=time(12, 45),
                end_time=time(13, 30),
                provenance=prov(at(d)),
            )
            w.add(le)
            if grade == 1:
                continue
            w.add(Homework(school=SCHOOL, lesson_id=le.id, text=f"№ {n}", provenance=prov(at(d))))
            for k, s in enumerate(studs):
                if (n + k) % 2 == 0:
                    w.add(
                        Mark(
                            school=SCHOOL,
                            student_id=s.id,
                            lesson_id=le.id,
                            work_type="answer",
                            value=MarkValue.FIVE,
                            teacher_id=teacher.id,
                            provenance=prov(at(d)),
                        )
                    )
        if grade != 1:
            for s in studs:
                w.add(
                    FinalMark(
                        school=SCHOOL,
                        student_id=s.id,
                        subject_id=math.id,
                        period_id=q1.id,
                        value=MarkValue.FIVE,
                        provenance=prov(at(date(2025, 10, 20), "10:00")),
                    )
                )
    return w


def absent(w: World, student: Person, lesson: Lesson, code: AttendanceCode) -> Attendance:
    a = Attendance(school=SCHOOL, student_id=student.id, lesson_id=lesson.id, code=code)
    w.add(a)
    return a
