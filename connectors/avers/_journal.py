"""One journal page (class × term) from the rows every student of the class sees. Pure.

How the rows fit together (WIRE.md "Journal"):

* a **diary row** is a journal *column*; a lesson's main column has ``main_id = null``, a second
  column of the same lesson (another piece of work) names the main one in ``main_id``;
* a **journal row** (mark or attendance) names its column in position 0;
* ``GET_STUDENT_LESSONS`` gives each column its type of work and weight;
* the diary has no lesson number: it comes from the whole-school timetable, matching class,
  subject, subgroup and weekday; lessons of one subject on one day take the timetable's numbers
  in diary order (the diary lists a day in timetable order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from core.codes import WORK_TYPES, AttendanceCode, MarkValue
from core.errors import MalformedRecord, Skippable
from core.model import Attendance, FinalMark, Homework, Lesson, Mark

from .mapping import Batch, Mapper, split_mark_text
from .schema import Bad, DiaryRow, DirectorRow, JournalRow, LessonRow, TimetableRow

__all__ = ["ClassContext", "StudentRows", "Timetable", "journal_page"]


class Timetable:
    """``(class_key, subject, group_no, weekday)`` → the day's lesson numbers and shift."""

    def __init__(self, rows: Sequence[TimetableRow]) -> None:
        self._slots: dict[tuple[int, int, int, int], list[tuple[int, int]]] = {}
        for r in rows:
            key = (r.class_key, r.subject_id, r.group_no or 1, r.weekday)
            self._slots.setdefault(key, []).append((r.lesson_no, r.shift or 1))
        for slots in self._slots.values():
            slots.sort()

    def slots(self, cls: int, subject: int, group_no: int, weekday: int) -> list[tuple[int, int]]:
        return self._slots.get((cls, subject, group_no, weekday), [])


@dataclass(frozen=True, slots=True)
class ClassContext:
    """What a class's pages need from the roster."""

    cls: int
    class_id: str
    split_subjects: frozenset[int]  # subjects taught in subgroups (GET_STUDENT_GROUPS)
    groups: Mapping[tuple[int, int], str]  # (platform subject, subgroup) → canonical group id
    subjects: Mapping[int, str]  # platform subject → canonical subject id
    timetable: Timetable


@dataclass(slots=True)
class StudentRows:
    """One student's rows for one page (already cut to the page's dates)."""

    pupil_id: int
    diary: list[DiaryRow | Bad] = field(default_factory=list)
    lessons: list[LessonRow | Bad] = field(default_factory=list)
    journal: list[JournalRow | Bad] = field(default_factory=list)
    finals: list[DirectorRow | Bad] = field(default_factory=list)


@dataclass(slots=True)
class _Column:
    row: DiaryRow
    main_id: int
    work_type: str | None = None
    weight: float | None = None
    typed: bool = False
    ordinal: int = 0


def journal_page(
    m: Mapper,
    ctx: ClassContext,
    students: Sequence[StudentRows],
    *,
    period_id: str,
    platform_period: int,
) -> Batch:
    batch = Batch()
    columns: dict[int, _Column] = {}
    for st in students:
        for d in st.diary:
            if isinstance(d, Bad):
                batch.bad(d, "lesson")
            elif d.column_id not in columns:
                columns[d.column_id] = _Column(d, d.main_id or d.column_id)
        for lr in st.lessons:
            if isinstance(lr, Bad):
                batch.bad(lr, "mark")
                continue
            col = columns.get(lr.column_id)
            if col is not None and not col.typed:
                col.typed, col.weight = True, lr.weight
                if lr.work_type is None:
                    continue  # the lesson's plain column: no type of work
                try:
                    col.work_type = m.work_types.lookup(lr.work_type)
                except Skippable as exc:
                    batch.skip(exc, "mark", f"column:{lr.column_id}")
    lessons = _lessons(m, ctx, columns, batch)
    _ordinals(columns)
    batch.records += lessons.values()
    _homework(m, columns, lessons, batch)
    seen: set[tuple[int, int, int]] = set()
    for st in students:
        for jr in st.journal:
            if isinstance(jr, Bad):
                batch.bad(jr, "mark")
                continue
            if (jr.pupil_id, jr.column_id, jr.code) in seen:
                continue
            seen.add((jr.pupil_id, jr.column_id, jr.code))
            try:
                batch.records.append(_journal_record(m, jr, columns, lessons))
            except Skippable as exc:
                batch.skip(exc, "mark", f"journal:{jr.column_id}/{jr.pupil_id}")
        for fr in st.finals:
            if isinstance(fr, Bad):
                batch.bad(fr, "final_mark")
                continue
            if fr.period_id != platform_period:
                continue
            try:
                batch.records.append(_final(m, ctx, fr, period_id))
            except Skippable as exc:
                batch.skip(exc, "final_mark", f"final:{fr.period_id}/{fr.subject_id}/{fr.pupil_id}")
    return batch


def _lessons(
    m: Mapper, ctx: ClassContext, columns: Mapping[int, _Column], batch: Batch
) -> dict[int, Lesson]:
    mains = [c.row for c in columns.values() if c.row.main_id is None]
    by_slot: dict[tuple[date, int, int], list[DiaryRow]] = {}
    by_day: dict[date, list[DiaryRow]] = {}
    for row in mains:
        by_slot.setdefault((row.day, row.subject_id, row.group_no or 1), []).append(row)
        by_day.setdefault(row.day, []).append(row)
    out: dict[int, Lesson] = {}
    for (day, subject, group_no), rows in by_slot.items():
        slots = ctx.timetable.slots(ctx.cls, subject, group_no, day.isoweekday())
        for k, row in enumerate(rows):
            if k < len(slots):
                number, shift = slots[k]
            else:  # not in the timetable: the lesson's place in the day's diary (a guess)
                number, shift = by_day[day].index(row) + 1, 1
            try:
                out[row.column_id] = _lesson(m, ctx, row, number, shift)
            except Skippable as exc:
                batch.skip(exc, "lesson", f"column:{row.column_id}")
    return out


def _lesson(m: Mapper, ctx: ClassContext, row: DiaryRow, number: int, shift: int) -> Lesson:
    subgroup = (row.group_no or 1) if row.subject_id in ctx.split_subjects else 0
    group_id = ctx.groups.get((row.subject_id, subgroup))
    if group_id is None:
        raise MalformedRecord(
            "lesson of a subject or subgroup the class does not have", field="subject"
        )
    return Lesson(
        school=m.school,
        group_id=group_id,
        date=row.day,
        number=number,
        topic=(row.theme or "").strip(),
        teacher_id=m.person_id(row.teacher_id) if row.teacher_id is not None else None,
        shift=shift,
        provenance=m.prov(column=row.column_id, subject=row.subject_id, group_no=row.group_no),
    )


def _ordinals(columns: Mapping[int, _Column]) -> None:
    """Each column's position among its lesson's columns of the same type of work."""
    counters: dict[tuple[int, str], int] = {}
    for cid in sorted(columns):
        col = columns[cid]
        if col.work_type is None:
            col.ordinal = 1  # a plain column; a mark on it is «Задание» (other)
            continue
        key = (col.main_id, col.work_type)
        col.ordinal = counters[key] = counters.get(key, 0) + 1


def _homework(
    m: Mapper, columns: Mapping[int, _Column], lessons: Mapping[int, Lesson], batch: Batch
) -> None:
    ordinals: dict[int, int] = {}
    for cid in sorted(columns):
        col = columns[cid]
        text = (col.row.homework or "").strip()
        lesson = lessons.get(col.main_id)
        if not text or lesson is None:
            continue
        n = ordinals[col.main_id] = ordinals.get(col.main_id, 0) + 1
        batch.records.append(
            Homework(
                school=m.school,
                lesson_id=lesson.id,
                ordinal=n,
                text=text,
                provenance=m.prov(column=cid),
            )
        )


def _journal_record(
    m: Mapper, jr: JournalRow, columns: Mapping[int, _Column], lessons: Mapping[int, Lesson]
) -> Mark | Attendance:
    col = columns.get(jr.column_id)
    lesson = lessons.get(col.main_id) if col is not None else None
    if col is None or lesson is None:
        raise MalformedRecord("the entry's journal column is not in the diary", field="column")
    value = m.codes.lookup(jr.code)
    student = m.person_id(jr.pupil_id)
    if isinstance(value, AttendanceCode):
        return Attendance(
            school=m.school,
            student_id=student,
            lesson_id=lesson.id,
            code=value,
            provenance=m.prov(column=jr.column_id, student=jr.pupil_id),
        )
    assert isinstance(value, MarkValue)
    if not col.typed:
        raise MalformedRecord("the mark's column has no known type of work", field="work_type")
    work_type = col.work_type or "other"
    weight = col.weight if col.weight is not None else WORK_TYPES[work_type].default_weight
    return Mark(
        school=m.school,
        student_id=student,
        lesson_id=lesson.id,
        work_type=work_type,
        ordinal=col.ordinal,
        value=value,
        weight=weight,
        comment=(jr.comment or "").strip(),
        teacher_id=lesson.teacher_id,
        provenance=m.prov(column=jr.column_id, student=jr.pupil_id),
    )


def _final(m: Mapper, ctx: ClassContext, fr: DirectorRow, period_id: str) -> FinalMark:
    subject = ctx.subjects.get(fr.subject_id)
    if subject is None:
        raise MalformedRecord("period mark of a subject the class does not have", field="subject")
    return FinalMark(
        school=m.school,
        student_id=m.person_id(fr.pupil_id),
        subject_id=subject,
        period_id=period_id,
        value=split_mark_text(fr.value),
        provenance=m.prov(period=fr.period_id, subject=fr.subject_id, student=fr.pupil_id),
    )
