"""One journal page: what every pupil of a class saw in one period (and the holidays after it),
merged into canonical records.

Ruobr shows one family per account, so a class's journal is the union of its pupils' diaries:

* a lesson shared by classmates has one ``id`` and becomes one record; each pupil contributes
  only their own marks;
* the lesson's number in the day is not on the wire: it is the rank of its start time among the
  class's lessons that day (subgroups of one slot share a start time) [guess, WIRE.md];
* a group is (class, subject, subgroup from ``division_subject_str``); its members are the
  pupils who see its lessons;
* attendance comes from ``all_marks`` (``status_lesson``), whose ``indx`` is the lesson's
  position among the pupil's lessons of that subject in the period [guess, WIRE.md];
* final marks come from ``controlmark`` of closed periods only (``marks_future == 0``); in a
  running period the number is a progress average, not a final mark (note §4.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache

from core.errors import MalformedRecord, Skippable
from core.model import ClassUnit, Group, Lesson, Period, Record, Subject

from . import schema as s
from .mapping import Batch, Mapper, subgroup_of, subject_key

__all__ = ["ChildView", "Seen", "assemble"]


@dataclass(slots=True)
class ChildView:
    """What one pupil's account showed for the page's class and period."""

    child: int
    lessons: list[s.Lesson | s.Bad]
    #: subject key (see :func:`subject_key`) → that subject's ``all_marks`` of the period.
    attendance: dict[str, s.AllMarks] = field(default_factory=dict)
    #: Control marks of the page's closed periods (its own, plus a half-year or year that ends
    #: within the page's range), with each period's record.
    finals: list[tuple[Period, list[s.ControlMark | s.Bad]]] = field(default_factory=list)


@dataclass(slots=True)
class Seen:
    """Ids of groups, teachers and subjects already carried by a page of this run: each is
    carried once per run, so its scope does not flip between pages on every pull."""

    records: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Merged:
    lesson: s.Lesson
    copies: list[tuple[int, s.Lesson]] = field(default_factory=list)


@dataclass(slots=True)
class _GroupAcc:
    subject: Subject
    subgroup: int
    division: int | None
    teachers: dict[int, str] = field(default_factory=dict)  # staff id → full name (ordered)
    members: set[int] = field(default_factory=set)


def _start(ls: s.Lesson) -> time | None:
    return _clock(ls.time_start)


_MIDNIGHT = time(0)


def _by_time(ls: s.Lesson) -> tuple[date, time, int]:
    """A pupil's lessons in the order ``indx`` counts them: by date, start time, id."""
    return ls.date, _start(ls) or _MIDNIGHT, ls.id


@lru_cache(maxsize=1024)  # a school's few bell times, met on every lesson of every pupil
def _clock(text: str) -> time | None:
    try:
        hh, mm = text.strip().split(":")[:2]
        return time(int(hh), int(mm))
    except ValueError:
        return None


def assemble(
    mapper: Mapper,
    *,
    unit: ClassUnit,
    period: s.ControlPeriod,
    views: list[ChildView],
    seen: Seen,
) -> Batch:
    batch = Batch()
    merged: dict[int, _Merged] = {}
    for view in views:
        for item in view.lessons:
            if isinstance(item, s.Bad):
                batch.bad(item, "lesson", f"lesson:{item.item_id()}")
                continue
            m = merged.get(item.id)
            if m is None:  # classmates share a lesson: one record, each pupil's own copy
                m = merged[item.id] = _Merged(item)
            m.copies.append((view.child, item))

    numbers: dict[int, int] = {}
    by_day: dict[object, set[time]] = {}
    for m in merged.values():
        t = _start(m.lesson)
        if t is not None:
            by_day.setdefault(m.lesson.date, set()).add(t)
    ranks = {day: {t: n for n, t in enumerate(sorted(ts), start=1)} for day, ts in by_day.items()}
    for lid, m in merged.items():
        t = _start(m.lesson)
        numbers[lid] = ranks[m.lesson.date][t] if t is not None else 0

    groups: dict[str, _GroupAcc] = {}
    lessons: dict[int, Lesson] = {}
    order = sorted(
        merged.values(), key=lambda m: (m.lesson.date, numbers[m.lesson.id], m.lesson.id)
    )
    # (subject, division_subject_str) → its subject record, subgroup and group id: a page's
    # lessons share a few groups.
    kinds: dict[tuple[str, str], tuple[Subject, int, str]] = {}
    for m in order:
        ls = m.lesson
        kind = kinds.get((ls.subject, ls.division_subject_str))
        if kind is None:
            subject = mapper.subject(ls.subject)
            subgroup = subgroup_of(ls.division_subject_str)
            gid = Group(
                school=mapper.school, class_id=unit.id, subject_id=subject.id, subgroup=subgroup
            ).id
            kind = kinds[ls.subject, ls.division_subject_str] = (subject, subgroup, gid)
        subject, subgroup, gid = kind
        acc = groups.setdefault(gid, _GroupAcc(subject, subgroup, ls.division_subject))
        if ls.staff_id:
            acc.teachers.setdefault(ls.staff_id, ls.staff)
        acc.members.update(child for child, _ in m.copies)
        if numbers[ls.id] == 0:
            batch.skip(
                MalformedRecord("lesson time is not HH:MM[:SS]", field="time_start"),
                "lesson",
                f"lesson:{ls.id}",
            )
            continue
        try:
            lesson = mapper.lesson(ls, gid, numbers[ls.id])
        except Skippable as exc:
            batch.skip(exc, "lesson", f"lesson:{ls.id}", ls.model_dump(mode="json"))
            continue
        lessons[ls.id] = lesson
        batch.records.append(lesson)
        _homework(mapper, batch, m, lesson)
        _marks(mapper, batch, m, lesson)

    for view in views:
        _attendance(mapper, batch, view, lessons, period)
        for record, marks in view.finals:
            _finals(mapper, batch, view.child, record, marks)

    _groups_and_teachers(mapper, batch, unit, groups, seen)
    return batch


def _homework(mapper: Mapper, batch: Batch, m: _Merged, lesson: Lesson) -> None:
    tasks: dict[int, tuple[s.Task, set[int]]] = {}
    for child, copy in m.copies:
        for task in copy.task:
            if isinstance(task, s.Bad):
                batch.bad(task, "homework", f"lesson:{m.lesson.id}/task:{task.item_id()}")
                continue
            entry = tasks.get(task.id)
            if entry is None:
                tasks[task.id] = (task, {child})
            else:
                entry[1].add(child)
    for ordinal, tid in enumerate(sorted(tasks), start=1):
        task, viewers = tasks[tid]
        # `type` "group" = the whole group (the only value seen); anything else is treated as
        # individual homework for the pupils who see it.
        students = () if task.type == "group" else sorted(viewers)
        try:
            batch.records.append(mapper.homework(task, lesson.id, ordinal, students))
        except Skippable as exc:
            batch.skip(exc, "homework", f"lesson:{m.lesson.id}/task:{tid}")


def _marks(mapper: Mapper, batch: Batch, m: _Merged, lesson: Lesson) -> None:
    lid = m.lesson.id
    append = batch.records.append
    for child, copy in m.copies:
        for mark in copy.marks:
            if isinstance(mark, s.Bad):
                ref = f"lesson:{lid}/child:{child}/question:{mark.item_id('question_id')}"
                batch.bad(mark, "mark", ref)
                continue
            try:
                append(mapper.mark(mark, lesson, lid, child))
            except Skippable as exc:
                ref = f"lesson:{lid}/child:{child}/question:{mark.question_id}"
                batch.skip(exc, "mark", ref, mark.model_dump(mode="json"))


def _attendance(
    mapper: Mapper,
    batch: Batch,
    view: ChildView,
    lessons: dict[int, Lesson],
    period: s.ControlPeriod,
) -> None:
    # `indx` counts the pupil's lessons of the subject within the period's own dates (a page
    # also reads the holidays after it).
    # A lesson listed twice is one lesson: it must not shift the count.
    if not view.attendance:
        return
    first, last = period.date_start, period.date_end
    once: dict[int, s.Lesson] = {}
    for ls in view.lessons:
        if isinstance(ls, s.Lesson) and first <= ls.date <= last and ls.id not in once:
            once[ls.id] = ls
    mine = sorted(once.values(), key=_by_time)
    by_subject: dict[str, list[s.Lesson]] = {}
    for ls in mine:
        key = subject_key(ls.subject)
        of_key = by_subject.get(key)
        if of_key is None:
            by_subject[key] = [ls]
        else:
            of_key.append(ls)
    done: set[int] = set()
    for key, am in view.attendance.items():
        of_subject = by_subject.get(key, [])
        for item in am.marks:
            if isinstance(item, s.Bad):
                batch.bad(item, "attendance", f"child:{view.child}/all_marks:{am.sub_id}")
                continue
            status = item.status_lesson.strip()
            if not status:
                continue
            indx = item.indx
            if not 0 <= indx < len(of_subject) or of_subject[indx].date != item.date:
                batch.skip(
                    MalformedRecord("`indx` names no lesson of that date", field="indx"),
                    "attendance",
                    _absence_ref(view.child, am.sub_id, indx),
                )
                continue
            ls = of_subject[indx]
            if ls.id in done or ls.id not in lessons:
                continue
            try:
                batch.records.append(
                    mapper.attendance_record(status, lessons[ls.id], ls.id, view.child)
                )
                done.add(ls.id)
            except Skippable as exc:
                batch.skip(exc, "attendance", _absence_ref(view.child, am.sub_id, indx))


def _absence_ref(child: int, sub_id: int | None, indx: int) -> str:
    """An absence's place in the answers (built only for what is quarantined)."""
    return f"child:{child}/all_marks:{sub_id}/indx:{indx}"


def _finals(
    mapper: Mapper,
    batch: Batch,
    child: int,
    period: Period,
    marks: list[s.ControlMark | s.Bad],
) -> None:
    number = int((period.provenance.external_ids if period.provenance else {}).get("period", 0))
    for cm in marks:
        if isinstance(cm, s.Bad):
            ref = f"child:{child}/period:{number}/subject:{cm.item_id('subject_id')}"
            batch.bad(cm, "final_mark", ref)
            continue
        try:
            record = mapper.final_mark(cm, period.id, child, number)
        except Skippable as exc:
            batch.skip(exc, "final_mark", f"child:{child}/period:{number}/subject:{cm.subject_id}")
            continue
        if record is not None:
            batch.records.append(record)


def _groups_and_teachers(
    mapper: Mapper, batch: Batch, unit: ClassUnit, groups: dict[str, _GroupAcc], seen: Seen
) -> None:
    out: list[Record] = []
    for gid, acc in groups.items():
        if acc.subject.id not in seen.records:  # a subject no control-mark list names
            seen.records.add(acc.subject.id)
            out.append(acc.subject)
        for staff_id, full_name in acc.teachers.items():
            try:
                teacher = mapper.teacher(staff_id, full_name)
            except Skippable as exc:
                batch.skip(exc, "person", f"staff:{staff_id}")
                continue
            if teacher.id not in seen.records:
                seen.records.add(teacher.id)
                out.append(teacher)
        if gid in seen.records:
            continue
        seen.records.add(gid)
        out.append(
            mapper.group(
                class_id=unit.id,
                subject_id=acc.subject.id,
                subgroup=acc.subgroup,
                division=acc.division,
                teachers=acc.teachers,
                members=sorted(acc.members),
            )
        )
    batch.records.extend(out)
