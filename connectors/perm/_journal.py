"""One class's journal over a date range, merged from its students' views, split into weeks.

Reads (WIRE.md): the schedule and homework of each group through *one* member (a "covering"
student per group: a lesson is the same for every member), the marks of *every* student, and
absences from the student profiles the roster already read. Shared lessons are read once and
belong to one class page, so nothing is duplicated.

Marks are asked for by creation date from the range's first day to the later of its last day
and today, so a mark entered after its lesson is still found; a mark or absence that refers to
a lesson outside the range is another page's business in an incremental pull, and quarantined
in a full one (it names a lesson the schedule does not show).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from core.errors import MalformedRecord, Skippable
from core.model import Lesson
from core.platform import each_account

from . import schema as s
from ._roster import ClassInfo, Roster, Student
from .mapping import Batch, Mapper

__all__ = ["ClassJournal", "monday", "read_class"]


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(slots=True)
class ClassJournal:
    """A class's records by week (Monday), plus quarantine entries that belong to no week."""

    weeks: dict[date, Batch] = field(default_factory=dict)
    loose: Batch = field(default_factory=Batch)

    def week(self, day: date) -> Batch:
        return self.weeks.setdefault(monday(day), Batch())


@dataclass(frozen=True, slots=True)
class _Slot:
    student: int
    item: s.MarkItem | s.Bad
    lesson_ext: int
    work_type: str | Skippable


def _cover(cls: ClassInfo) -> dict[int, tuple[Student, list[int]]]:
    """For each group, its first member (by id): student id → (student, groups it covers)."""
    out: dict[int, tuple[Student, list[int]]] = {}
    for gid in cls.group_ids:
        member = next((st for st in cls.students if gid in st.group_ids()), None)
        if member is not None:
            out.setdefault(member.id, (member, []))[1].append(gid)
    return out


async def read_class(
    roster: Roster,
    cls: ClassInfo,
    mapper: Mapper,
    *,
    start: date,
    end: date,
    today: date,
    strict: bool,
    limit: int = 1,
) -> ClassJournal:
    out = ClassJournal()
    cover = _cover(cls)
    items: dict[int, s.ScheduleItem] = {}
    homeworks: dict[int, s.StudentHomework] = {}

    async def ask(
        cover_of: tuple[Student, list[int]],
    ) -> tuple[list[s.ScheduleItem | s.Bad], list[s.StudentHomework | s.Bad]]:
        st, gids = cover_of
        return (
            await st.session.schedule_items(st.id, gids, start, end),
            await st.session.homeworks(st.id, start, end),
        )

    # The members covering the class's groups at once; merged in their order.
    covered = list(cover.values())
    answers = await each_account(covered, ask, limit=limit)
    for schedule, student_homeworks in answers:
        for item in schedule:
            if isinstance(item, s.Bad):
                out.loose.bad(item, "lesson", f"schedule_item:{item.item_id()}")
            elif item.group_id in roster.groups and item.id not in items:
                items[item.id] = item
        for hw in student_homeworks:
            if isinstance(hw, s.Bad):
                out.loose.bad(hw, "homework", f"student_homework:{hw.item_id()}")
            else:
                homeworks.setdefault(hw.homework_entry.homework.id, hw)

    lessons: dict[int, Lesson] = {}
    for item in sorted(items.values(), key=lambda i: i.id):
        try:
            lesson = mapper.lesson(item, roster.groups[item.group_id].id)
        except Skippable as exc:
            out.week(item.date).skip(exc, "lesson", f"schedule_item:{item.id}")
            continue
        lessons[item.id] = lesson
        out.week(lesson.date).records.append(lesson)

    _homework(out, mapper, items, lessons, homeworks, start, end)
    every = await each_account(
        cls.students, lambda st: st.session.marks(st.id, start, max(end, today)), limit=limit
    )
    for st, marks in zip(cls.students, every, strict=True):
        _marks(out, mapper, st.id, marks, lessons, strict)
        _absences(out, mapper, st, lessons)
    return out


def _homework(
    out: ClassJournal,
    mapper: Mapper,
    items: dict[int, s.ScheduleItem],
    lessons: dict[int, Lesson],
    homeworks: dict[int, s.StudentHomework],
    start: date,
    end: date,
) -> None:
    linked: set[int] = set()
    for item_id, lesson in lessons.items():
        given = sorted({h.id for h in items[item_id].homeworks_to_give})
        for ordinal, hw_id in enumerate(given, start=1):
            hw = homeworks.get(hw_id)
            if hw is None:
                continue  # assigned outside the range read: not this pull's business
            linked.add(hw_id)
            out.week(lesson.date).records.append(
                mapper.homework(hw.homework_entry, lesson, ordinal, hw.id)
            )
    for hw_id, hw in homeworks.items():
        assigned = hw.homework_entry.homework.date_assigned_on
        if hw_id not in linked and (assigned is None or start <= assigned <= end):
            out.loose.skip(
                MalformedRecord(
                    "homework is not given at any lesson of the class schedule",
                    field="homework_entry.homework.id",
                ),
                "homework",
                f"homework:{hw_id}",
            )


def _lesson_ext(item: s.MarkItem | s.Bad) -> int | None:
    if isinstance(item, s.MarkItem):
        return item.schedule_lesson_id
    value = item.raw_get("schedule_lesson_id")
    return value if isinstance(value, int) else None


def _marks(
    out: ClassJournal,
    mapper: Mapper,
    student: int,
    marks: Iterable[s.MarkItem | s.Bad],
    lessons: dict[int, Lesson],
    strict: bool,
) -> None:
    """A student's marks, each id read once. Broken ones keep their place in the ordinal count
    when their id, lesson and control form are readable, so one bad mark does not renumber its
    siblings."""
    slots: dict[tuple[int, str], list[tuple[int, _Slot]]] = {}
    seen: set[int] = set()
    for item in marks:
        ref = f"mark:{item.id if isinstance(item, s.MarkItem) else item.item_id()}"
        lesson_ext = _lesson_ext(item)
        mark_id = item.id if isinstance(item, s.MarkItem) else item.raw_get("id")
        if lesson_ext is None or not isinstance(mark_id, int):
            if isinstance(item, s.Bad):
                out.loose.bad(item, "mark", ref)
            continue
        # A mark listed twice (a server's paging or join glitch) is one mark: read once, so
        # it takes no second ordinal and renumbers nothing.
        if mark_id in seen:
            continue
        seen.add(mark_id)
        if lesson_ext not in lessons:
            if strict and isinstance(item, s.Bad):
                out.loose.bad(item, "mark", ref)
            elif strict:
                out.loose.skip(
                    MalformedRecord(
                        "mark refers to a lesson the schedule does not show",
                        field="schedule_lesson_id",
                    ),
                    "mark",
                    ref,
                )
            continue
        work_type: str | Skippable
        try:
            work_type = mapper.work_type(item)
        except Skippable as exc:
            work_type = exc
        slot = _Slot(student, item, lesson_ext, work_type)
        key = (lesson_ext, work_type if isinstance(work_type, str) else "?")
        slots.setdefault(key, []).append((mark_id, slot))
    for (lesson_ext, _), entries in slots.items():
        lesson = lessons[lesson_ext]
        batch = out.week(lesson.date)
        for ordinal, (mark_id, slot) in enumerate(sorted(entries, key=lambda e: e[0]), start=1):
            ref = f"mark:{mark_id}"
            if isinstance(slot.item, s.Bad):
                batch.bad(slot.item, "mark", ref)
            elif isinstance(slot.work_type, Skippable):
                batch.skip(slot.work_type, "mark", ref, _payload(slot.item))
            else:
                try:
                    batch.records.append(
                        mapper.mark(slot.item, student, lesson, slot.work_type, ordinal)
                    )
                except Skippable as exc:
                    batch.skip(exc, "mark", ref, _payload(slot.item))


def _absences(out: ClassJournal, mapper: Mapper, st: Student, lessons: dict[int, Lesson]) -> None:
    for row in st.profile.attendances:
        if isinstance(row, s.Bad):
            out.loose.bad(row, "attendance", f"attendance:{row.item_id()}")
            continue
        lesson = lessons.get(row.schedule_lesson_id)
        if lesson is None:
            continue  # absences are listed for the whole year; other weeks are other pages
        out.week(lesson.date).records.append(mapper.absence(row, st.id, lesson))


def _payload(item: s.MarkItem) -> Any:
    return item.model_dump(mode="json", include={"id", "schedule_lesson_id", "control_form_name"})
