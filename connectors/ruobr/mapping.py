"""Ruobr payloads → canonical records. Pure: schema models in, records or quarantine entries out.

Codes go through :class:`core.codes.CodeTable` instances (data, not ``if`` chains); a record that
cannot be mapped raises :class:`core.errors.Skippable`, which the caller turns into a
:class:`core.connector.Quarantined` entry. Messages name platform ids and codes, never a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache

from core import platform
from core.codes import (
    WORK_TYPES,
    AttendanceCode,
    CodeTable,
    MarkValue,
    PeriodKind,
    Role,
    split_mark_text,
)
from core.connector import Quarantined
from core.errors import MalformedRecord, Skippable, UnknownCode
from core.model import (
    AcademicYear,
    Attachment,
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
    School,
    Subject,
    normalise_class_name,
    normalise_subject_name,
)

from . import schema as s
from ._html import homework_text

__all__ = [
    "PLATFORM",
    "Batch",
    "Mapper",
    "attendance_table",
    "final_value",
    "person_id",
    "person_key",
    "split_full_name",
    "subgroup_of",
    "subject_key",
    "work_type_table",
]

PLATFORM = "ruobr"


@lru_cache(maxsize=4096)  # few distinct work types and subjects, met on every lesson and mark
def _norm(text: str) -> str:
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").casefold().split())


# Work types are free text in `question_type`/`question_name` (note §5.1): the canonical names,
# plus the spellings teachers' journals use.
_WORK_TYPES: dict[str, str] = {
    **{_norm(w.name): w.code for w in WORK_TYPES.values()},
    _norm("Устный ответ"): "answer",
    _norm("Ответ"): "answer",
    _norm("Домашняя работа"): "homework",
    _norm("Контрольная"): "test",
    _norm("Самостоятельная"): "independent",
    _norm("Лабораторная"): "lab",
    _norm("Практическая"): "practical",
    _norm("Проверочная"): "check",
    _norm("Тестирование"): "quiz",
}

# `status_lesson` codes (note §5.2): Н and УП are evidenced (legacy attendance/); the rest follow
# the common Russian journal spelling [guess].
_ATTENDANCE: dict[str, AttendanceCode] = {
    "Н": AttendanceCode.ABSENT,
    "НП": AttendanceCode.ABSENT,
    "УП": AttendanceCode.EXCUSED,
    "У": AttendanceCode.EXCUSED,
    "Б": AttendanceCode.ILL,
    "ОП": AttendanceCode.LATE,
    "ОСВ": AttendanceCode.RELEASED,
}


def work_type_table() -> CodeTable[str, str]:
    return CodeTable("ruobr work type", "question_type", _WORK_TYPES)


def attendance_table() -> CodeTable[str, AttendanceCode]:
    return CodeTable("ruobr attendance status", "status_lesson", _ATTENDANCE)


_PERIOD_KINDS: dict[str, PeriodKind] = {
    "четверть": PeriodKind.QUARTER,
    "полугодие": PeriodKind.HALF_YEAR,
    "триместр": PeriodKind.TRIMESTER,
    "семестр": PeriodKind.SEMESTER,
    "модуль": PeriodKind.MODULE,
}
_YEAR_WORDS = ("год", "годовая", "годовые", "итоговая", "итог")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
_TITLE_RE = re.compile(r"^\s*(\d+|[IVX]+)?\s*-?\s*(?:я|й|ое|е)?\s*([А-Яа-яЁё]+)", re.IGNORECASE)
_SUBGROUP_RE = re.compile(r"(\d+)\s*(?:-?я\s*)?(?:подгр|групп|гр\b)", re.IGNORECASE)
_SCHOOL_PREFIX = re.compile(r"^\s*\d+\s*-\s*")


def person_key(platform_id: int | str) -> str:
    """Canonical person key: pupil ``id`` for students, ``staff_id`` for teachers."""
    return platform.person_key(PLATFORM, platform_id)


def person_id(school: str, platform_id: int | str) -> str:
    return platform.person_id(PLATFORM, school, platform_id)


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """«Фамилия Имя Отчество» → (last, first, middle)."""
    return platform.split_full_name(full_name, field="staff")


def subgroup_of(division_str: str) -> int:
    """The subgroup number in ``division_subject_str`` («…, 1 подгруппа»); 0 = whole class."""
    m = _SUBGROUP_RE.search(division_str or "")
    return int(m.group(1)) if m else 0


def _clock(value: str, field_name: str) -> time:
    try:
        parts = value.strip().split(":")
        return time(int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) > 2 else 0)
    except (ValueError, IndexError):
        raise MalformedRecord("lesson time is not HH:MM[:SS]", field=field_name) from None


def final_value(raw: float) -> MarkValue | None:
    """A control mark: ``0.0`` = none yet (note §4.4); whole 1–5 → the mark."""
    if raw == 0:
        return None
    if not raw.is_integer() or not 1 <= raw <= 5:
        raise UnknownCode(f"control mark {raw} is not a whole 5-point mark", field="mark")
    return MarkValue(str(int(raw)))


@dataclass(slots=True)
class Batch(platform.Batch):
    """Records and quarantine entries of one page (a record is quarantined once)."""

    def _add(self, q: Quarantined) -> None:
        # Classmates see the same lesson: one broken record must not be quarantined per viewer.
        if all(
            (x.entity, x.record, x.field) != (q.entity, q.record, q.field) for x in self.quarantine
        ):
            self.quarantine.append(q)


class Mapper:
    """Maps one school's payloads; holds the code tables so unmapped codes are collected."""

    def __init__(self, school: str, *, fetched_at: datetime | None = None) -> None:
        self.school = school
        self.fetched_at = fetched_at
        self.work_types = work_type_table()
        self.attendance = attendance_table()

    def _prov(self, **ids: object) -> Provenance:
        return platform.provenance(PLATFORM, ids, fetched_at=self.fetched_at)

    # --- roster ----------------------------------------------------------------------------------

    def school_record(self, name: str, territory: int | None = None) -> School:
        # `school` may carry a number prefix: «69-МБОУ "СОШ №69"» (note §4.2).
        return School(
            school=self.school,
            name=_SCHOOL_PREFIX.sub("", name).strip() or self.school,
            provenance=self._prov(territory=territory),
        )

    def year(self, start: date, end: date) -> AcademicYear:
        return AcademicYear(
            school=self.school,
            start_year=start.year if start.month >= 7 else start.year - 1,
            start=start,
            end=end,
        )

    def period(self, year_id: str, cp: s.ControlPeriod) -> Period:
        m = _TITLE_RE.match(cp.title)
        word = m.group(2).lower() if m else ""
        number = m.group(1) if m else None
        if word in _YEAR_WORDS:
            kind, ordinal = PeriodKind.YEAR, 1
        elif word in _PERIOD_KINDS:
            kind = _PERIOD_KINDS[word]
            raw = number or cp.rom.strip().upper()
            ordinal = _ROMAN.get(raw.upper(), 0) if raw and not raw.isdigit() else int(raw or 0)
            if ordinal <= 0:
                raise Skippable(
                    f"period {cp.period}: no ordinal in its title or `rom`",
                    entity="period",
                    record=f"period:{cp.period}",
                    field="title",
                )
        else:
            raise Skippable(
                f"period {cp.period}: the title names no known period kind",
                entity="period",
                record=f"period:{cp.period}",
                field="title",
            )
        return Period(
            school=self.school,
            year_id=year_id,
            kind=kind,
            ordinal=ordinal,
            start=cp.date_start,
            end=cp.date_end,
            name=cp.title.strip(),
            provenance=self._prov(period=cp.period),
        )

    def class_unit(self, year_id: str, name: str) -> ClassUnit:
        try:
            grade, letter = normalise_class_name(name)
        except ValueError:
            raise MalformedRecord(
                "the pupil's `group` is not a grade and letter", entity="class_unit", field="group"
            ) from None
        return ClassUnit(
            school=self.school,
            year_id=year_id,
            grade=grade,
            letter=letter,
            provenance=self._prov(group=f"{grade}{letter}"),
        )

    def student(self, child: s.Child) -> Person:
        return Person(
            school=self.school,
            key=person_key(child.id),
            last_name=child.last_name.strip(),
            first_name=child.first_name.strip(),
            middle_name=child.middle_name.strip(),
            birth_date=child.birth_date,
            roles=(Role.STUDENT,),
            provenance=self._prov(child=child.id, user_id=child.user_id),
        )

    def enrollment(self, student_id: str, class_id: str, begin: date, child: int) -> Enrollment:
        return Enrollment(
            school=self.school,
            student_id=student_id,
            class_id=class_id,
            begin=begin,
            provenance=self._prov(child=child),
        )

    def subject(self, name: str, subject_id: int | None = None) -> Subject:
        return Subject(school=self.school, name=name, provenance=self._prov(subject_id=subject_id))

    def teacher(self, staff_id: int, full_name: str) -> Person:
        try:
            last, first, middle = split_full_name(full_name)
        except MalformedRecord as exc:
            exc.entity, exc.record = "person", f"staff:{staff_id}"
            raise
        return Person(
            school=self.school,
            key=person_key(staff_id),
            last_name=last,
            first_name=first,
            middle_name=middle,
            roles=(Role.TEACHER,),
            provenance=self._prov(staff_id=staff_id),
        )

    def group(
        self,
        *,
        class_id: str,
        subject_id: str,
        subgroup: int,
        division: int | None,
        teachers: Iterable[int],
        members: Iterable[int],
    ) -> Group:
        return Group(
            school=self.school,
            class_id=class_id,
            subject_id=subject_id,
            subgroup=subgroup,
            teacher_ids=tuple(person_id(self.school, t) for t in teachers),
            # A whole-class group lists no members (canonical convention).
            member_ids=tuple(person_id(self.school, m) for m in members) if subgroup else (),
            provenance=self._prov(division_subject=division),
        )

    # --- journal ---------------------------------------------------------------------------------

    def lesson(self, ls: s.Lesson, group_id: str, number: int) -> Lesson:
        try:
            start = _clock(ls.time_start, "time_start")
            end = _clock(ls.time_end, "time_end") if ls.time_end.strip() else None
        except MalformedRecord as exc:
            exc.entity, exc.record = "lesson", f"lesson:{ls.id}"
            raise
        return Lesson(
            school=self.school,
            group_id=group_id,
            date=ls.date,
            number=number,
            topic=(ls.topic or "").strip(),
            teacher_id=person_id(self.school, ls.staff_id) if ls.staff_id else None,
            start_time=start,
            end_time=end,
            provenance=self._prov(lesson=ls.id, division_subject=ls.division_subject),
        )

    def homework(
        self, task: s.Task, lesson_id: str, ordinal: int, students: Iterable[int] = ()
    ) -> Homework:
        text, files = homework_text(task.text)
        return Homework(
            school=self.school,
            lesson_id=lesson_id,
            ordinal=ordinal,
            text=text or task.title.strip(),
            due_date=task.deadline,
            attachments=tuple(Attachment(name=f.name, url=f.url) for f in files),
            student_ids=tuple(person_id(self.school, c) for c in students),
            provenance=self._prov(task=task.id),
        )

    def mark(self, m: s.LessonMark, lesson: Lesson, lesson_ext: int, child: int) -> Mark:
        work = m.question_type.strip() or m.question_name.strip()
        return Mark(
            school=self.school,
            student_id=person_id(self.school, child),
            lesson_id=lesson.id,
            work_type=self.work_types.lookup(_norm(work)),
            ordinal=max(m.number, 1),
            value=_mark_value(m.mark),
            teacher_id=lesson.teacher_id,
            provenance=self._prov(lesson=lesson_ext, question=m.question_id, child=child),
        )

    def attendance_record(
        self, code: str, lesson: Lesson, lesson_ext: int, child: int
    ) -> Attendance:
        return Attendance(
            school=self.school,
            student_id=person_id(self.school, child),
            lesson_id=lesson.id,
            code=self.attendance.lookup(code.strip().upper()),
            provenance=self._prov(lesson=lesson_ext, child=child),
        )

    def final_mark(
        self, cm: s.ControlMark, period_id: str, child: int, period: int
    ) -> FinalMark | None:
        value = final_value(cm.mark)
        if value is None:
            return None
        return FinalMark(
            school=self.school,
            student_id=person_id(self.school, child),
            subject_id=Subject(school=self.school, name=cm.subject_name).id,
            period_id=period_id,
            value=value,
            provenance=self._prov(period=period, subject_id=cm.subject_id, child=child),
        )


def _mark_value(text: str) -> MarkValue:
    values = _mark_values(text)
    if len(values) != 1:
        raise UnknownCode("one diary mark holds several values", field="mark")
    return values[0]


@lru_cache(maxsize=256)  # a handful of mark texts, met on every mark (a failure is not cached)
def _mark_values(text: str) -> tuple[MarkValue, ...]:
    return tuple(split_mark_text(text))


@lru_cache(maxsize=4096)  # a school's few subjects, met on every lesson of every pupil
def subject_key(name: str) -> str:
    """How lessons (``subject``) and control marks (``subject_name``) are matched."""
    return _norm(normalise_subject_name(name))
