"""ЭПОС payloads → canonical records.

Pure: schema models in, records (or quarantine entries) out, no I/O. Codes go through
:class:`core.codes.CodeTable` (data, not ``if`` chains); a record that cannot be mapped raises a
:class:`core.errors.Skippable` naming entity, platform record and field, which the caller turns
into a :class:`core.connector.Quarantined`. Messages carry platform ids and codes only.

Decisions (WIRE.md):

* A person's key is ``perm:<profile id>`` — student, parent and teacher profiles alike.
* ``is_point`` («точка», a provisional/debt mark) → :attr:`MarkValue.DOT` whatever value the
  teacher typed beside it: the canonical code list has «точка» as a value of its own, and the
  provisional number is not a mark of record. Its deadline (``point_date``) is kept in the
  provenance.
* A mark's ordinal is its position among the same student's marks of the same work type on the
  same lesson, by mark id: МЭШ has no assignment "columns" a student could see.
* Weights are the platform's integers, as floats.
* An attendance row means absent («Н»): no reason codes are known (note §5), so the code is
  always ``absent`` and the connector declares ``code`` as not carried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

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
from core.errors import MalformedRecord, UnknownCode
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
)

from . import schema as s

__all__ = [
    "PLATFORM",
    "Batch",
    "Mapper",
    "normalise_code",
    "period_table",
    "person_id",
    "person_key",
    "subgroup_of",
    "work_type_table",
]

PLATFORM = "perm"

# control_form_name (a form of control, note §5) → canonical work type. The canonical names are
# the forms' usual names on the МЭШ stack; the aliases are spellings seen in Russian journals.
_WORK_ALIASES: dict[str, str] = {
    "устный ответ": "answer",
    "ответ у доски": "answer",
    "работа на уроке": "classwork",
    "домашняя работа": "homework",
    "самостоятельная": "independent",
    "контрольная": "test",
    "тестирование": "quiz",
    "лабораторная": "lab",
    "практическая": "practical",
    "проверочная": "check",
    "диагностическая": "diagnostic",
    "итоговая контрольная работа": "test",
    "исследовательская работа": "project",
}


def normalise_code(text: str) -> str:
    """Case-, «ё»- and space-insensitive form of a platform label."""
    return " ".join(text.replace("ё", "е").replace("Ё", "Е").casefold().split())


def work_type_table() -> CodeTable[str, str]:
    table = {normalise_code(w.name): w.code for w in WORK_TYPES.values()}
    table |= {normalise_code(k): v for k, v in _WORK_ALIASES.items()}
    return CodeTable("perm control form", "control_form_name", table)


_PERIOD_WORDS: dict[str, PeriodKind] = {
    "четверть": PeriodKind.QUARTER,
    "триместр": PeriodKind.TRIMESTER,
    "полугодие": PeriodKind.HALF_YEAR,
    "семестр": PeriodKind.SEMESTER,
    "год": PeriodKind.YEAR,
    "годовая": PeriodKind.YEAR,
    "итоговая": PeriodKind.FINAL,
    "экзамен": PeriodKind.EXAM,
}
_PERIOD_RE = re.compile(r"^\s*(\d+|I{1,3}|IV)?\s*-?\s*(?:я\s+)?([А-Яа-яЁё]+)")
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_SUBGROUP_RE = re.compile(r"\(\s*(\d+)\s*подгр", re.IGNORECASE)


def period_table() -> CodeTable[str, PeriodKind]:
    return CodeTable("perm period kind", "name", _PERIOD_WORDS)


def subgroup_of(group_name: str) -> int:
    """«7А Английский язык (1 подгр.)» → 1; a whole-class group → 0 (WIRE.md)."""
    m = _SUBGROUP_RE.search(group_name)
    return int(m.group(1)) if m else 0


def person_key(profile_id: int | str) -> str:
    return platform.person_key(PLATFORM, profile_id)


def person_id(school: str, profile_id: int | str) -> str:
    """Canonical id of a person from the profile id alone (no roster needed)."""
    return platform.person_id(PLATFORM, school, profile_id)


def _split_name(full: str) -> tuple[str, str, str]:
    return platform.split_full_name(
        full, field="name", message="a full name needs a last and a first name"
    )


Batch = platform.Batch


class Mapper:
    """Maps one school's payloads; holds the code tables so unmapped codes are collected."""

    def __init__(self, school: str, base_url: str, *, fetched_at: datetime | None = None) -> None:
        self.school = school
        self.base_url = base_url.rstrip("/")
        self.fetched_at = fetched_at
        self.work_types = work_type_table()
        self.periods = period_table()

    def _prov(self, **ids: object) -> Provenance:
        return platform.provenance(PLATFORM, ids, fetched_at=self.fetched_at)

    # --- roster ----------------------------------------------------------------------------------

    def school_record(self, profile: s.SessionProfile) -> School:
        return School(
            school=self.school,
            name=profile.school_shortname.strip(),
            provenance=self._prov(school_id=profile.school_id),
        )

    def year(self, year: s.AcademicYear) -> AcademicYear:
        return AcademicYear(
            school=self.school,
            start_year=year.begin_date.year,
            start=year.begin_date,
            end=year.end_date,
            provenance=self._prov(academic_year_id=year.id),
        )

    def period(self, year_id: str, p: s.ProgressPeriod) -> Period:
        record = f"period:{p.name.strip()}"
        m = _PERIOD_RE.match(p.name)
        if m is None or p.start_iso is None or p.end_iso is None:
            raise MalformedRecord(
                "a period needs a name with its kind and start_iso/end_iso dates",
                entity="period",
                record=record,
                field="name" if m is None else "start_iso",
            )
        try:
            kind = self.periods.lookup(m.group(2).lower())
        except UnknownCode as exc:
            exc.entity, exc.record = "period", record
            raise
        raw = m.group(1) or "1"
        ordinal = _ROMAN[raw] if raw in _ROMAN else int(raw)
        return Period(
            school=self.school,
            year_id=year_id,
            kind=kind,
            ordinal=ordinal,
            start=p.start_iso,
            end=p.end_iso,
            name=p.name.strip(),
            provenance=self._prov(),
        )

    def class_unit(self, year_id: str, unit: s.ClassUnitRef) -> ClassUnit:
        try:
            grade, letter = normalise_class_name(unit.name)
        except ValueError:
            raise MalformedRecord(
                "class name is not a grade and letter",
                entity="class_unit",
                record=f"class_unit:{unit.id}",
                field="class_unit.name",
            ) from None
        return ClassUnit(
            school=self.school,
            year_id=year_id,
            grade=grade,
            letter=letter,
            provenance=self._prov(class_unit_id=unit.id),
        )

    def subject(self, name: str, subject_id: int | None) -> Subject:
        return Subject(school=self.school, name=name, provenance=self._prov(subject_id=subject_id))

    def group(
        self,
        *,
        class_id: str,
        subject_id: str,
        group: s.GroupRef,
        teacher_profile_ids: Iterable[int],
        member_profile_ids: Iterable[int],
    ) -> Group:
        subgroup = subgroup_of(group.name)
        return Group(
            school=self.school,
            class_id=class_id,
            subject_id=subject_id,
            subgroup=subgroup,
            teacher_ids=tuple(person_id(self.school, t) for t in sorted(set(teacher_profile_ids))),
            member_ids=(
                tuple(person_id(self.school, m) for m in sorted(set(member_profile_ids)))
                if subgroup
                else ()
            ),
            provenance=self._prov(group_id=group.id),
        )

    def person(
        self,
        profile_id: int,
        role: Role,
        *,
        last: str | None,
        first: str | None,
        middle: str | None,
        full: str = "",
        birth_date: date | None = None,
    ) -> Person:
        if not (last and first):
            try:
                last, first, middle = _split_name(full)
            except MalformedRecord as exc:
                exc.entity, exc.record = "person", f"profile:{profile_id}"
                raise
        return Person(
            school=self.school,
            key=person_key(profile_id),
            last_name=last.strip(),
            first_name=first.strip(),
            middle_name=(middle or "").strip(),
            birth_date=birth_date,
            roles=(role,),
            provenance=self._prov(profile_id=profile_id),
        )

    def enrollment(self, student: s.StudentProfile, class_id: str, begin: date) -> Enrollment:
        return Enrollment(
            school=self.school,
            student_id=person_id(self.school, student.id),
            class_id=class_id,
            begin=student.enlisted_on or begin,
            provenance=self._prov(student_profile_id=student.id),
        )

    # --- journal ---------------------------------------------------------------------------------

    def lesson(self, item: s.ScheduleItem, group_id: str) -> Lesson:
        start: time | None = None
        end: time | None = None
        try:
            if item.time and len(item.time) >= 2:
                start = time(item.time[0], item.time[1])
            elif item.iso_date_time and "T" in item.iso_date_time:
                start = time.fromisoformat(item.iso_date_time.split("T", 1)[1][:5])
        except ValueError:
            raise MalformedRecord(
                "lesson time is not a valid time",
                entity="lesson",
                record=f"schedule_item:{item.id}",
                field="time",
            ) from None
        if start is not None and item.duration:
            finish = datetime.combine(item.date, start) + timedelta(minutes=item.duration)
            end = finish.time()
        return Lesson(
            school=self.school,
            group_id=group_id,
            date=item.date,
            number=item.study_ordinal,
            topic=(item.lesson_name or "").strip(),
            teacher_id=person_id(self.school, item.teacher_id) if item.teacher_id else None,
            start_time=start,
            end_time=end,
            provenance=self._prov(schedule_lesson_id=item.id, group_id=item.group_id),
        )

    def work_type(self, mark: s.MarkItem | s.Bad) -> str:
        name = mark.control_form_name if isinstance(mark, s.MarkItem) else None
        if isinstance(mark, s.Bad):
            raw = mark.raw_get("control_form_name")
            name = raw if isinstance(raw, str) else None
        if not name:
            raise MalformedRecord("the mark has no control_form_name", field="control_form_name")
        return self.work_types.lookup(normalise_code(name))

    def mark(
        self, item: s.MarkItem, student: int, lesson: Lesson, work_type: str, ordinal: int
    ) -> Mark:
        if item.is_point:
            value = MarkValue.DOT
        else:
            values = split_value(item.name)
            value = values[0]
        return Mark(
            school=self.school,
            student_id=person_id(self.school, student),
            lesson_id=lesson.id,
            work_type=work_type,
            ordinal=ordinal,
            value=value,
            weight=float(item.weight),
            comment=(item.comment or "").strip(),
            teacher_id=person_id(self.school, item.teacher_id) if item.teacher_id else None,
            provenance=self._prov(
                mark_id=item.id,
                schedule_lesson_id=item.schedule_lesson_id,
                control_form_id=item.control_form_id,
                point_date=item.point_date.isoformat() if item.point_date else None,
            ),
        )

    def homework(
        self, entry: s.HomeworkEntry, lesson: Lesson, ordinal: int, student_hw_id: int
    ) -> Homework:
        return Homework(
            school=self.school,
            lesson_id=lesson.id,
            ordinal=ordinal,
            text=entry.description.strip(),
            due_date=entry.homework.date_prepared_for,
            # A file listed twice (same id and path) is one file, like a mark listed twice.
            attachments=tuple(
                self.attachment(a) for a in {(a.id, a.path): a for a in entry.attachments}.values()
            ),
            provenance=self._prov(homework_id=entry.homework.id, homework_entry_id=entry.id),
        )

    def attachment(self, a: s.AttachmentInfo) -> Attachment:
        # Download URL = host + path, URL-quoted (P4 HomeworkAttachmentsAdapter, P5).
        path = a.path if a.path.startswith("/") else f"/{a.path}"
        return Attachment(
            name=a.file_file_name, url=self.base_url + quote(path), size=a.file_file_size
        )

    def absence(self, row: s.AttendanceRow, student: int, lesson: Lesson) -> Attendance:
        return Attendance(
            school=self.school,
            student_id=person_id(self.school, student),
            lesson_id=lesson.id,
            code=AttendanceCode.ABSENT,
            provenance=self._prov(attendance_id=row.id, schedule_lesson_id=row.schedule_lesson_id),
        )

    def final_mark(self, student: int, subject_id: str, period_id: str, text: str) -> FinalMark:
        return FinalMark(
            school=self.school,
            student_id=person_id(self.school, student),
            subject_id=subject_id,
            period_id=period_id,
            value=split_value(text)[0],
            provenance=self._prov(student_profile_id=student),
        )


def split_value(text: str) -> list[MarkValue]:
    """One mark; ЭПОС keeps one value per mark, so «4/5» is not a mark here.

    The message names no value: a mark tied to a record reference is personal data.
    """
    try:
        values = split_mark_text(text)
    except UnknownCode:
        values = []
    if len(values) != 1:
        raise UnknownCode("mark value is not a known single mark", field="name")
    return values
