"""One journal page (class × term) from the rows every student of the class sees. Pure.

How the rows fit together (WIRE.md "Journal"):

* a **diary row** is a journal *column*; a lesson's main column has ``main_id = null``, a second
  column of the same lesson (another piece of work) names the main one in ``main_id``;
* a **journal row** (mark or attendance) names its column in position 0;
* ``GET_STUDENT_LESSONS`` (an optional enrichment) gives a column its type of work and weight;
  without it every mark is «other» with the default weight;
* the diary has no lesson number: it comes from the whole-school timetable, matching class,
  subject, subgroup and weekday; lessons of one subject on one day take the timetable's numbers
  in column-id order (the diary lists a day in timetable order, and in the captures the column
  ids rise along it; a diary answered in another row order numbers the lessons the same);
* the journal covers the whole year, the diary only the dates asked for (the captured client asks
  for one week): a journal row whose column is not in the diary gets a lesson **built from the
  journal** [guess]: one lesson per (day, subject, subgroup), or as many as the pupil has
  attendance entries there (a double lesson missed twice); marks go on the first of them.
* two marks on one lesson are two records: the mark ordinal is the column's place among the
  lesson's columns of the same type of work, by column id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from core.codes import WORK_TYPES, AttendanceCode, MarkValue
from core.errors import MalformedRecord, Skippable, UnknownCode
from core.model import Attendance, FinalMark, Homework, Lesson, Mark, Record

from .mapping import JOURNAL_LABELS, Batch, Mapper, journal_entity, split_mark_text
from .schema import Bad, DiaryRow, DirectorRow, JournalRow, LessonRow, TimetableRow

__all__ = ["ClassContext", "StudentRows", "Timetable", "journal_page"]

OTHER = "other"


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
    split_subjects: frozenset[int]  # subjects taught in subgroups
    groups: Mapping[tuple[int, int], str]  # (platform subject, subgroup) → canonical group id
    subjects: Mapping[int, str]  # platform subject → canonical subject id
    timetable: Timetable
    #: pupil → platform subject → subgroup, for the split subjects (journal rows name none).
    pupil_groups: Mapping[int, Mapping[int, int]] = field(default_factory=dict)
    #: Teacher ids the roster has a person for; ``None``: every id (the dictionary answered).
    teachers: frozenset[int] | None = None


@dataclass(slots=True)
class StudentRows:
    """One student's rows for one page (already cut to the page's dates)."""

    pupil_id: int
    diary: list[DiaryRow | Bad] = field(default_factory=list)
    lessons: list[LessonRow | Bad] = field(default_factory=list)
    journal: list[JournalRow | Bad] = field(default_factory=list)
    finals: list[DirectorRow | Bad] = field(default_factory=list)


@dataclass(slots=True)
class _Slot:
    """Where a mark column's marks go: type of work, ordinal, weight."""

    work_type: str
    ordinal: int
    weight: float | None


_LessonKey = tuple[str, int]  # ("d", main column id) | ("j<n>:<day>:<subject>:<subgroup>", n)


def journal_page(
    m: Mapper,
    ctx: ClassContext,
    students: Sequence[StudentRows],
    *,
    period_id: str,
    platform_period: int,
    finals: Mapping[int, str] | None = None,
) -> Batch:
    """The page's records. ``finals`` maps the platform period ids whose finals belong on this
    page to canonical period ids (default: this term only); a final of any other period is
    quarantined (the connector passes each final to one page only)."""
    batch = Batch()
    columns: dict[int, DiaryRow] = {}
    types: dict[int, tuple[str | None, float | None]] = {}
    for st in students:
        for d in st.diary:
            if isinstance(d, Bad):
                batch.bad(d, "lesson")
            elif d.column_id not in columns:
                columns[d.column_id] = d
        for lr in st.lessons:
            if isinstance(lr, Bad):
                batch.bad(lr, "mark")
            elif lr.column_id not in types:
                types[lr.column_id] = _type_of(m, lr, batch)
    lessons = _diary_lessons(m, ctx, columns, batch)
    batch.records += lessons.values()
    _homework(m, columns, lessons, batch)

    entries: list[JournalRow] = []
    seen: set[tuple[int, int, int]] = set()
    for st in students:
        for jr in st.journal:
            if isinstance(jr, Bad):
                raw = jr.raw if isinstance(jr.raw, list) else []
                code = raw[6] if len(raw) > 6 else None
                batch.bad(jr, journal_entity(code, raw[2] if len(raw) > 2 else None))
            elif (jr.pupil_id, jr.column_id, jr.code) not in seen:
                seen.add((jr.pupil_id, jr.column_id, jr.code))
                entries.append(jr)
    placed = _place_entries(m, ctx, entries, columns, lessons, batch)
    slots = _mark_slots(columns, types, placed)
    emitted: set[str] = set()
    for jr, lesson, lesson_key in placed:
        try:
            rec = _journal_record(m, jr, lesson, slots.get((lesson_key, jr.column_id)))
        except Skippable as exc:
            batch.skip(exc, journal_entity(jr.code, jr.value), f"journal:{jr.column_id}")
            continue
        if rec.id in emitted:
            batch.skip(
                MalformedRecord(
                    f"a second {rec.ENTITY} entry for the same pupil and lesson", field="column"
                ),
                rec.ENTITY,
                f"journal:{jr.column_id}",
            )
            continue
        emitted.add(rec.id)
        batch.records.append(rec)

    wanted = finals if finals is not None else {platform_period: period_id}
    for st in students:
        for fr in st.finals:
            if isinstance(fr, Bad):
                batch.bad(fr, "final_mark")
                continue
            try:
                batch.records.append(_final(m, ctx, fr, wanted))
            except Skippable as exc:
                batch.skip(exc, "final_mark", f"final:{fr.period_id}/{fr.subject_id}")
    return batch


def _type_of(m: Mapper, lr: LessonRow, batch: Batch) -> tuple[str | None, float | None]:
    if lr.work_type is None:
        return None, lr.weight  # the lesson's plain column: no type of work
    try:
        return m.work_types.lookup(lr.work_type), lr.weight
    except Skippable as exc:
        batch.skip(exc, "mark", f"column:{lr.column_id}")
        return None, lr.weight


def _diary_lessons(
    m: Mapper, ctx: ClassContext, columns: Mapping[int, DiaryRow], batch: Batch
) -> dict[int, Lesson]:
    # By column id: the diary lists a day in timetable order, and in the captures the column
    # ids rise along it; the ids (not the answer's row order) number the lessons.
    mains = sorted(
        (row for row in columns.values() if row.main_id is None), key=lambda r: r.column_id
    )
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


def _group_id(ctx: ClassContext, subject: int, subgroup: int) -> str:
    group_id = ctx.groups.get((subject, subgroup))
    if group_id is None:
        raise MalformedRecord(
            "lesson of a subject or subgroup the class does not have", field="subject"
        )
    return group_id


def _lesson(m: Mapper, ctx: ClassContext, row: DiaryRow, number: int, shift: int) -> Lesson:
    subgroup = (row.group_no or 1) if row.subject_id in ctx.split_subjects else 0
    teacher = row.teacher_id
    known = teacher is not None and (ctx.teachers is None or teacher in ctx.teachers)
    return Lesson(
        school=m.school,
        group_id=_group_id(ctx, row.subject_id, subgroup),
        date=row.day,
        number=number,
        topic=(row.theme or "").strip(),
        teacher_id=m.person_id(teacher) if known and teacher is not None else None,
        shift=shift,
        provenance=m.prov(
            column=row.column_id, subject=row.subject_id, group_no=row.group_no, teacher=teacher
        ),
    )


def _homework(
    m: Mapper, columns: Mapping[int, DiaryRow], lessons: Mapping[int, Lesson], batch: Batch
) -> None:
    ordinals: dict[int, int] = {}
    for cid in sorted(columns):
        row = columns[cid]
        main = row.main_id or cid
        text = (row.homework or "").strip()
        lesson = lessons.get(main)
        if not text or lesson is None:
            continue
        n = ordinals[main] = ordinals.get(main, 0) + 1
        batch.records.append(
            Homework(
                school=m.school,
                lesson_id=lesson.id,
                ordinal=n,
                text=text,
                provenance=m.prov(column=cid),
            )
        )


def _is_attendance(jr: JournalRow) -> bool:
    return journal_entity(jr.code, jr.value) == "attendance"


def _place_entries(
    m: Mapper,
    ctx: ClassContext,
    entries: Sequence[JournalRow],
    columns: Mapping[int, DiaryRow],
    lessons: Mapping[int, Lesson],
    batch: Batch,
) -> list[tuple[JournalRow, Lesson, _LessonKey]]:
    """Each entry with its lesson: the diary's when its column is there, else one built from
    the journal (module doc); an entry without either is quarantined."""
    placed: list[tuple[JournalRow, Lesson, _LessonKey]] = []
    loose: dict[tuple[date, int, int], list[JournalRow]] = {}
    for jr in entries:
        col = columns.get(jr.column_id)
        if col is not None:
            main = col.main_id or col.column_id
            lesson = lessons.get(main)
            if lesson is None:  # the diary lesson itself was quarantined
                batch.skip(
                    MalformedRecord("the entry's lesson could not be read", field="column"),
                    journal_entity(jr.code, jr.value),
                    f"journal:{jr.column_id}",
                )
            else:
                placed.append((jr, lesson, ("d", main)))
            continue
        split = jr.subject_id in ctx.split_subjects
        subgroup = ctx.pupil_groups.get(jr.pupil_id, {}).get(jr.subject_id, 1) if split else 0
        loose.setdefault((jr.day, jr.subject_id, subgroup), []).append(jr)

    taken: dict[tuple[str, date], set[int]] = {}
    for lesson in lessons.values():
        taken.setdefault((lesson.group_id, lesson.date), set()).add(lesson.number)
    for (day, subject, subgroup), rows in sorted(loose.items()):
        try:
            group_id = _group_id(ctx, subject, subgroup)
        except Skippable as exc:
            for jr in rows:
                batch.skip(exc, journal_entity(jr.code, jr.value), f"journal:{jr.column_id}")
            continue
        absences: dict[int, list[JournalRow]] = {}
        for jr in sorted(rows, key=lambda r: r.column_id):
            if _is_attendance(jr):
                absences.setdefault(jr.pupil_id, []).append(jr)
        count = max([1, *(len(v) for v in absences.values())])
        used = taken.setdefault((group_id, day), set())
        built: list[Lesson] = []
        number = 0
        first_column = min(jr.column_id for jr in rows)
        while len(built) < count:
            number += 1
            if number in used:
                continue
            used.add(number)
            built.append(
                Lesson(
                    school=m.school,
                    group_id=group_id,
                    date=day,
                    number=number,
                    provenance=m.prov(
                        column=first_column, subject=subject, source="journal", index=len(built)
                    ),
                )
            )
        batch.records += built
        tag = f"j:{day.isoformat()}:{subject}:{subgroup}"
        for jr in rows:
            if _is_attendance(jr):
                k = absences[jr.pupil_id].index(jr)
                placed.append((jr, built[k], (tag, k)))
            else:
                placed.append((jr, built[0], (tag, 0)))
    return placed


def _mark_slots(
    columns: Mapping[int, DiaryRow],
    types: Mapping[int, tuple[str | None, float | None]],
    placed: Sequence[tuple[JournalRow, Lesson, _LessonKey]],
) -> dict[tuple[_LessonKey, int], _Slot]:
    """Type of work and ordinal of every mark column, per lesson (module doc).

    Typed diary columns count among their lesson's columns of the same type whether or not they
    carry a mark (as the platform numbers its columns); a column without a type of work is
    «other», numbered after the lesson's typed «other» columns among those carrying marks.
    """
    lesson_columns: dict[_LessonKey, set[int]] = {}
    for cid, row in columns.items():
        lesson_columns.setdefault(("d", row.main_id or cid), set()).add(cid)
    marked: dict[_LessonKey, set[int]] = {}
    for jr, _lesson, key in placed:
        if not _is_attendance(jr):
            lesson_columns.setdefault(key, set()).add(jr.column_id)
            marked.setdefault(key, set()).add(jr.column_id)
    out: dict[tuple[_LessonKey, int], _Slot] = {}
    for key, cols in lesson_columns.items():
        counters: dict[str, int] = {}
        for cid in sorted(cols):
            work_type, weight = types.get(cid, (None, None))
            if work_type is not None:
                n = counters[work_type] = counters.get(work_type, 0) + 1
                out[(key, cid)] = _Slot(work_type, n, weight)
        for cid in sorted(marked.get(key, set())):
            if (key, cid) not in out:
                n = counters[OTHER] = counters.get(OTHER, 0) + 1
                out[(key, cid)] = _Slot(OTHER, n, types.get(cid, (None, None))[1])
    return out


def _journal_record(m: Mapper, jr: JournalRow, lesson: Lesson, slot: _Slot | None) -> Record:
    value = m.codes.lookup(jr.code)
    label = JOURNAL_LABELS.get(jr.code)
    if label is not None and jr.value.strip().upper() != label:
        raise UnknownCode("the entry's text and its code disagree", field="value")
    student = m.person_id(jr.pupil_id)
    prov = m.prov(column=jr.column_id, student=jr.pupil_id, subject=jr.subject_id)
    if isinstance(value, AttendanceCode):
        return Attendance(
            school=m.school, student_id=student, lesson_id=lesson.id, code=value, provenance=prov
        )
    assert isinstance(value, MarkValue) and slot is not None
    weight = slot.weight if slot.weight is not None else WORK_TYPES[slot.work_type].default_weight
    return Mark(
        school=m.school,
        student_id=student,
        lesson_id=lesson.id,
        work_type=slot.work_type,
        ordinal=slot.ordinal,
        value=value,
        weight=weight,
        comment=(jr.comment or "").strip(),
        teacher_id=lesson.teacher_id,
        provenance=prov,
    )


def _final(m: Mapper, ctx: ClassContext, fr: DirectorRow, periods: Mapping[int, str]) -> FinalMark:
    subject = ctx.subjects.get(fr.subject_id)
    if subject is None:
        raise MalformedRecord("period mark of a subject the class does not have", field="subject")
    period = periods.get(fr.period_id)
    if period is None:
        m.periods.lookup(fr.period_id)  # an unknown id says so (UnknownCode, period_id)
        raise MalformedRecord("period mark of a period the class has no dates for", field="period")
    return FinalMark(
        school=m.school,
        student_id=m.person_id(fr.pupil_id),
        subject_id=subject,
        period_id=period,
        value=split_mark_text(fr.value),
        provenance=m.prov(period=fr.period_id, subject=fr.subject_id, student=fr.pupil_id),
    )
