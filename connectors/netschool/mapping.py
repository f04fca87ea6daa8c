"""NetSchool payloads → canonical records.

Everything here is pure: schema models in, records (or quarantine entries) out, no I/O. Codes
are mapped through :class:`core.codes.CodeTable` instances (data, not ``if`` chains); a record
that cannot be mapped raises a :class:`core.errors.Skippable` naming entity, platform record and
field, which the caller turns into a :class:`core.connector.Quarantined` entry. Messages carry
platform ids and codes only, never names or marks of a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time

from core import platform
from core.codes import AttendanceCode, CodeTable, MarkValue, PeriodKind, Role
from core.errors import MalformedRecord, Skippable, UnknownCode
from core.model import (
    AcademicYear,
    Attendance,
    ClassUnit,
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

from .schema import (
    AttendanceMark,
    Bad,
    ClassInfo,
    ClassMeeting,
    EditAssignment,
    JournalAssignment,
    Result,
    SchoolInfo,
    Term,
    Year,
)

__all__ = [
    "HOMEWORK_TYPE_ID",
    "PLATFORM",
    "Batch",
    "LessonContext",
    "Mapper",
    "attendance_table",
    "person_id",
    "person_key",
    "split_full_name",
    "work_type_table",
]

PLATFORM = "netschool"
HOMEWORK_TYPE_ID = 3

# Note §5.3 (IRTech's built-in ids, stable across installations in practice).
_WORK_TYPES: dict[int, str] = {
    10: "answer", 3: "homework", 4: "test", 5: "independent", 6: "lab", 1: "practical",
    8: "dictation", 11: "essay", 12: "exposition", 14: "quiz", 7: "project", 24: "report",
    13: "credit", 17: "diagnostic", 25: "check", 26: "recitation", 33: "exam", 21: "classwork",
    2: "thematic",
}  # fmt: skip

# Note §5.2. Both ОТ and НП mean "absent without a valid reason"; ОТ comes first, so a push of
# ``absent`` writes the teacher UI's default "missed" code.
_ATTENDANCE: dict[str, AttendanceCode] = {
    "ОТ": AttendanceCode.ABSENT,
    "НП": AttendanceCode.ABSENT,
    "УП": AttendanceCode.EXCUSED,
    "Б": AttendanceCode.ILL,
    "ОП": AttendanceCode.LATE,
    "ОСВ": AttendanceCode.RELEASED,
}


def work_type_table() -> CodeTable[int, str]:
    return CodeTable("netschool work type id", "typeId", _WORK_TYPES)


def attendance_table() -> CodeTable[str, AttendanceCode]:
    return CodeTable("netschool attendance reason", "reason", _ATTENDANCE)


_PERIOD_KINDS: dict[str, PeriodKind] = {
    "четверть": PeriodKind.QUARTER,
    "полугодие": PeriodKind.HALF_YEAR,
    "триместр": PeriodKind.TRIMESTER,
    "семестр": PeriodKind.SEMESTER,
}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_TERM_RE = re.compile(r"^\s*(\d+|I{1,3}|IV)\s*-?\s*(?:я\s+)?([А-Яа-яЁё]+)\s*$")


def person_key(user_id: int | str) -> str:
    """The canonical person key: the platform's user id, namespaced by platform."""
    return platform.person_key(PLATFORM, user_id)


def person_id(school: str, user_id: int | str) -> str:
    """Canonical id of a person from the platform user id alone (no roster needed)."""
    return platform.person_id(PLATFORM, school, user_id)


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """«Фамилия Имя Отчество» → (last, first, middle); a compound patronymic stays whole."""
    return platform.split_full_name(full_name, field="fullName")


def _hhmm(value: str | None, field_name: str) -> time | None:
    if value is None or not value.strip():
        return None
    try:
        hours, minutes = value.strip().split(":")[:2]
        return time(int(hours), int(minutes))
    except ValueError:
        raise MalformedRecord("lesson time is not HH:MM", field=field_name) from None


Batch = platform.Batch


@dataclass(frozen=True, slots=True)
class LessonContext:
    """What a class meeting needs beyond itself: its group's canonical id and platform ids."""

    group_id: str
    sg_id: int
    term_id: int
    class_id: int | None = None
    year_id: int | None = None


class Mapper:
    """Maps one school's payloads; holds the code tables so unmapped codes are collected."""

    def __init__(self, school: str, *, fetched_at: datetime | None = None) -> None:
        self.school = school
        self.fetched_at = fetched_at
        self.work_types = work_type_table()
        self.attendance = attendance_table()
        self._work_type_ids = self.work_types.reverse()

    def _prov(self, **ids: object) -> Provenance:
        return platform.provenance(PLATFORM, ids, fetched_at=self.fetched_at)

    def type_id_for(self, work_type: str) -> int | None:
        """The platform type id of a canonical work type (push)."""
        return self._work_type_ids.get(work_type)

    # --- roster ----------------------------------------------------------------------------------

    def school_record(self, info: SchoolInfo) -> School:
        return School(
            school=self.school,
            name=info.name.strip(),
            inn=info.inn or None,
            ogrn=info.ogrn or None,
            provenance=self._prov(scid=info.id),
        )

    def year(self, year: Year) -> AcademicYear:
        return AcademicYear(
            school=self.school,
            start_year=year.startDate.year,
            start=year.startDate,
            end=year.endDate,
            provenance=self._prov(yearId=year.id),
        )

    def period(self, year_id: str, term: Term) -> Period:
        match = _TERM_RE.match(term.name)
        kind = _PERIOD_KINDS.get(match.group(2).lower()) if match else None
        if match is None or kind is None:
            raise Skippable(
                f"term name does not name a known period kind (term {term.id})",
                entity="period",
                record=f"term:{term.id}",
                field="name",
            )
        raw = match.group(1)
        ordinal = _ROMAN[raw] if raw in _ROMAN else int(raw)
        return Period(
            school=self.school,
            year_id=year_id,
            kind=kind,
            ordinal=ordinal,
            start=term.startDate,
            end=term.endDate,
            name=term.name.strip(),
            provenance=self._prov(termId=term.id),
        )

    def class_unit(self, year_id: str, info: ClassInfo) -> ClassUnit:
        try:
            grade, letter = normalise_class_name(info.name)
        except ValueError:
            raise MalformedRecord(
                f"class {info.id}: name is not a grade and letter",
                entity="class_unit",
                record=f"class:{info.id}",
                field="name",
            ) from None
        return ClassUnit(
            school=self.school,
            year_id=year_id,
            grade=grade,
            letter=letter,
            provenance=self._prov(classId=info.id),
        )

    def subject(self, name: str, subject_id: int | None) -> Subject:
        return Subject(school=self.school, name=name, provenance=self._prov(subjectId=subject_id))

    def group(
        self,
        *,
        class_id: str,
        subject_id: str,
        sg_id: int,
        subgroup: int,
        teacher_user_ids: Iterable[int],
        member_user_ids: Iterable[int] = (),
    ) -> Group:
        return Group(
            school=self.school,
            class_id=class_id,
            subject_id=subject_id,
            subgroup=subgroup,
            # Platform order, deduplicated: the order is stable and the record's content
            # (hence its hash) must not change between pulls.
            teacher_ids=_unique(person_id(self.school, u) for u in teacher_user_ids),
            member_ids=_unique(person_id(self.school, u) for u in member_user_ids),
            provenance=self._prov(sgId=sg_id),
        )

    def person(self, user_id: int, full_name: str, roles: Iterable[Role]) -> Person:
        try:
            last, first, middle = split_full_name(full_name)
        except MalformedRecord as exc:
            exc.entity, exc.record = "person", f"user:{user_id}"
            raise
        ordered = tuple(r for r in Role if r in set(roles))
        return Person(
            school=self.school,
            key=person_key(user_id),
            last_name=last,
            first_name=first,
            middle_name=middle,
            roles=ordered,
            provenance=self._prov(userId=user_id),
        )

    # --- journal ---------------------------------------------------------------------------------

    def lesson(self, cm: ClassMeeting, ctx: LessonContext) -> Lesson:
        record = f"cm:{cm.id}"
        try:
            start = _hhmm(cm.startTime, "startTime")
            end = _hhmm(cm.endTime, "endTime")
        except MalformedRecord as exc:
            exc.entity, exc.record = "lesson", record
            raise
        return Lesson(
            school=self.school,
            group_id=ctx.group_id,
            date=cm.date,
            number=cm.number,
            topic=(cm.lessonName or "").strip(),
            teacher_id=person_id(self.school, cm.teacherId) if cm.teacherId else None,
            shift=cm.relay,
            start_time=start,
            end_time=end,
            provenance=self._prov(
                cmId=cm.id,
                sgId=ctx.sg_id,
                termId=ctx.term_id,
                classId=ctx.class_id,
                yearId=ctx.year_id,
                lessonId=cm.lessonId,
            ),
        )

    def journal_page(
        self, meetings: Sequence[ClassMeeting | Bad], ctx: LessonContext, batch: Batch
    ) -> None:
        """Every record of one (group, term) journal into ``batch``; bad ones quarantined."""
        for cm in meetings:
            if isinstance(cm, Bad):
                batch.bad(cm, "lesson", f"cm:{cm.item_id()}")
                continue
            try:
                lesson = self.lesson(cm, ctx)
            except Skippable as exc:
                batch.skip(exc, "lesson", f"cm:{cm.id}", cm.model_dump(mode="json"))
                continue
            batch.records.append(lesson)
            self.lesson_content(cm.id, lesson.id, cm.assignments, cm.attendance, batch)

    def lesson_content(
        self,
        cm_id: int,
        lesson_id: str,
        assignments: Sequence[JournalAssignment | EditAssignment | Bad],
        attendance: Sequence[AttendanceMark | Bad],
        batch: Batch,
    ) -> None:
        """Homework, marks and attendance of one lesson (shared by pull and read-back).

        Homework is a type-3 assignment, so its ordinal is the same "position among the
        lesson's assignments of that type by id" that numbers marks.
        """
        ordinals = self._ordinals(cm_id, assignments)
        seen: set[int] = set()
        for a in assignments:
            if not isinstance(a, Bad):
                # An assignment listed twice (a server's paging or join glitch) is one
                # assignment: its marks are read once, not as a second assignment's.
                if a.id in seen:
                    continue
                seen.add(a.id)
            if isinstance(a, Bad):
                raw = a.raw if isinstance(a.raw, dict) else {}
                entity = "homework" if raw.get("typeId") == HOMEWORK_TYPE_ID else "mark"
                batch.bad(a, entity, f"cm:{cm_id}/assign:{a.item_id()}")
                continue
            slot = ordinals.get(a.id)
            if a.typeId == HOMEWORK_TYPE_ID and isinstance(slot, tuple):
                batch.records.append(self._homework(a, lesson_id, slot[1]))
            self._marks(cm_id, lesson_id, a, slot, batch)
        for row in attendance:
            if isinstance(row, Bad):
                batch.bad(row, "attendance", f"cm:{cm_id}/student:{row.item_id()}")
                continue
            record = f"cm:{cm_id}/student:{row.studentId}"
            try:
                item = self.attendance_record(cm_id, lesson_id, row)
            except Skippable as exc:
                batch.skip(exc, "attendance", record, row.model_dump(mode="json"))
                continue
            if item is not None:
                batch.records.append(item)

    def _ordinals(
        self, cm_id: int, assignments: Sequence[JournalAssignment | EditAssignment | Bad]
    ) -> dict[int, tuple[str, int] | Skippable]:
        """assignment id → (work type, ordinal among the lesson's same-type assignments).

        Bad assignments still take their place when their id and type are readable, so one
        broken assignment does not renumber (and so re-identify) its well-formed siblings.
        """
        keyed: list[tuple[int, int]] = []
        for a in assignments:
            if isinstance(a, Bad):
                raw = a.raw if isinstance(a.raw, dict) else {}
                aid, tid = raw.get("id"), raw.get("typeId")
                if isinstance(aid, int) and isinstance(tid, int):
                    keyed.append((aid, tid))
            else:
                keyed.append((a.id, a.typeId))
        out: dict[int, tuple[str, int] | Skippable] = {}
        counters: dict[str, int] = {}
        for aid, tid in sorted(set(keyed)):  # listed twice, numbered once
            try:
                work_type = self.work_types.lookup(tid)
            except Skippable as exc:
                exc.entity = "mark"  # the record is named per result by the caller
                out[aid] = exc
                continue
            counters[work_type] = counters.get(work_type, 0) + 1
            out[aid] = (work_type, counters[work_type])
        return out

    def _homework(
        self, a: JournalAssignment | EditAssignment, lesson_id: str, ordinal: int
    ) -> Homework:
        text = a.assignmentName if isinstance(a, JournalAssignment) else a.name
        return Homework(
            school=self.school,
            lesson_id=lesson_id,
            ordinal=ordinal,
            text=text.strip(),
            due_date=a.dueDate,
            provenance=self._prov(assignId=a.id),
        )

    def _marks(
        self,
        cm_id: int,
        lesson_id: str,
        a: JournalAssignment | EditAssignment,
        slot: tuple[str, int] | Skippable | None,
        batch: Batch,
    ) -> None:
        for res in a.results:
            if isinstance(res, Bad):
                batch.bad(res, "mark", f"cm:{cm_id}/assign:{a.id}/student:{res.item_id()}")
                continue
            if res.mark is None and not res.duty:
                continue  # an empty cell
            if isinstance(slot, tuple):
                try:
                    batch.records.append(self.mark(cm_id, lesson_id, a, res, slot))
                    continue
                except Skippable as exc:
                    problem = exc
            else:
                problem = slot or MalformedRecord("assignment has no type", field="typeId")
            record = f"cm:{cm_id}/assign:{a.id}/student:{res.studentId}"
            batch.skip(problem, "mark", record, res.model_dump(mode="json"))

    def mark(
        self,
        cm_id: int,
        lesson_id: str,
        a: JournalAssignment | EditAssignment,
        res: Result,
        slot: tuple[str, int],
    ) -> Mark:
        return Mark(
            school=self.school,
            student_id=person_id(self.school, res.studentId),
            lesson_id=lesson_id,
            work_type=slot[0],
            ordinal=slot[1],
            value=_mark_value(res),
            weight=a.weight / 10,
            provenance=self._prov(
                cmId=cm_id, assignId=a.id, typeId=a.typeId, studentId=res.studentId
            ),
        )

    def attendance_record(
        self, cm_id: int, lesson_id: str, row: AttendanceMark
    ) -> Attendance | None:
        reason = row.reason.strip()
        if not reason:
            return None  # "" = present: no record
        return Attendance(
            school=self.school,
            student_id=person_id(self.school, row.studentId),
            lesson_id=lesson_id,
            code=self.attendance.lookup(reason),
            provenance=self._prov(cmId=cm_id, studentId=row.studentId),
        )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


_MARKS = {n: MarkValue(str(n)) for n in range(1, 6)}


def _mark_value(res: Result) -> MarkValue:
    if res.mark is None:
        return MarkValue.DOT  # duty with no mark = «точка»
    try:
        return _MARKS[res.mark]
    except KeyError:
        raise UnknownCode(f"mark {res.mark} is outside the 5-point scale", field="mark") from None
