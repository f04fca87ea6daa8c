"""Build worklists from the outbox: resolve canonical ids to what a teacher sees on the platform.

Names, dates and lesson numbers come from the remote snapshot (what the last pull saw), falling
back to the local journal for a lesson or group the platform does not have yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TypeVar

from core.codes import ATTENDANCE_LABELS, MARK_LABELS, WORK_TYPES
from core.connector import PushChannel
from core.logging import get_logger
from core.model import (
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
    Record,
    School,
    Subject,
)
from core.store import OutboxItem, Store
from core.worklist._model import Block, Entry, Worklist, name_key, sorted_entries

__all__ = ["OPEN_STATUSES", "build_worklists", "issue_worklists"]

log = get_logger(__name__)

#: Outbox items still to be entered: not yet on a worklist, or on one and not yet seen entered.
OPEN_STATUSES = ("pending", "awaiting_entry")
NO_TEACHER = "Учитель не указан"
R = TypeVar("R", bound=Record)
_STRUCTURE = ("person", "class_unit", "subject", "group", "period", "school")


def full_name(person: Person) -> str:
    return " ".join(p for p in (person.last_name, person.first_name, person.middle_name) if p)


class _Index:
    """The snapshot records a worklist needs, by id (remote first, local as a fallback)."""

    def __init__(self, store: Store, school: str, platform: str, items: Sequence[OutboxItem]):
        self.by_id: dict[str, Record] = {}
        for entity in _STRUCTURE:
            for rec in store.local_records(school, entity):
                self.by_id[rec.id] = rec
            for rec in store.remote_records(school, platform, entity):
                self.by_id[rec.id] = rec  # the platform's version wins: it is what is shown
        lesson_ids = {i.record_id for i in items if i.entity == "lesson"}
        lesson_ids |= {
            getattr(i.record, "lesson_id", "") for i in items if hasattr(i.record, "lesson_id")
        }
        for rec in store.local_records(school, "lesson"):
            if rec.id in lesson_ids:
                self.by_id[rec.id] = rec
        for rec in store.remote_records(school, platform, "lesson"):
            if rec.id in lesson_ids:
                self.by_id[rec.id] = rec
        students = {getattr(i.record, "student_id", "") for i in items}
        self.class_of: dict[str, str] = {}
        for enr in store.remote_records(school, platform, "enrollment"):
            if isinstance(enr, Enrollment) and enr.student_id in students and enr.end is None:
                self.class_of[enr.student_id] = enr.class_id
        wanted = defaultdict(set)
        for i in items:
            wanted[i.entity].add(i.record_id)
        self.current: dict[str, Record] = {
            rec.id: rec
            for entity, ids in wanted.items()
            for rec in store.remote_records(school, platform, entity)
            if rec.id in ids
        }

    def get(self, cls: type[R], rid: str | None) -> R | None:
        rec = self.by_id.get(rid or "")
        return rec if isinstance(rec, cls) else None

    def group_for(self, class_id: str, subject_id: str) -> Group | None:
        return next(
            (
                g
                for g in self.by_id.values()
                if isinstance(g, Group) and g.class_id == class_id and g.subject_id == subject_id
            ),
            None,
        )


@dataclass(slots=True)
class _Draft:
    """An entry on its way into a block: the block key, the sort key and the teacher."""

    block_key: tuple[str, ...]
    block: Block
    sort_key: tuple[object, ...]
    teacher_id: str | None
    entry: Entry
    resolved: bool


def _label(rec: Record | None) -> str:
    if rec is None:
        return ""
    if isinstance(rec, Mark | FinalMark):
        return MARK_LABELS.get(rec.value, rec.value.value)
    if isinstance(rec, Attendance):
        label = ATTENDANCE_LABELS.get(rec.code, rec.code.value)
        return f"{label} ({rec.minutes_late} мин)" if rec.minutes_late else label
    if isinstance(rec, Lesson):
        return rec.topic or "(без темы)"
    if isinstance(rec, Homework):
        due = f" (срок {rec.due_date:%d.%m.%Y})" if rec.due_date else ""
        return rec.text + due
    return ""


def _entry(item: OutboxItem, index: _Index) -> Entry | None:
    rec = item.record
    op = "delete" if item.op == "delete" else "upsert"
    student = index.get(Person, getattr(rec, "student_id", None))
    common = {
        "op": op,
        "entity": item.entity,
        "record_id": item.record_id,
        "keys": (item.key,),
        "label": _label(rec),
        "current": _label(index.current.get(item.record_id)),
    }
    if hasattr(rec, "student_id"):
        common["student_id"] = rec.student_id
        common["student"] = full_name(student) if student else "(ученик не найден)"
    if isinstance(rec, Mark):
        wt = WORK_TYPES.get(rec.work_type)
        return Entry(
            kind="mark",
            value=rec.value.value,
            work_type=rec.work_type,
            work_type_name=wt.name if wt else rec.work_type,
            weight=rec.weight,
            ordinal=rec.ordinal,
            comment=rec.comment,
            **common,  # type: ignore[arg-type]
        )
    if isinstance(rec, Attendance):
        return Entry(
            kind="attendance",
            value=rec.code.value,
            minutes_late=rec.minutes_late,
            comment=rec.note,
            **common,  # type: ignore[arg-type]
        )
    if isinstance(rec, Lesson):
        return Entry(kind="topic", value=rec.topic, **common)  # type: ignore[arg-type]
    if isinstance(rec, Homework):
        return Entry(
            kind="homework",
            value=rec.text,
            ordinal=rec.ordinal,
            due_date=rec.due_date,
            **common,  # type: ignore[arg-type]
        )
    if isinstance(rec, FinalMark):
        return Entry(kind="final_mark", value=rec.value.value, **common)  # type: ignore[arg-type]
    return None


def _draft(item: OutboxItem, index: _Index) -> _Draft | None:
    entry = _entry(item, index)
    if entry is None:
        log.warning("outbox entity not enterable by hand", entity=item.entity)
        return None
    rec = item.record
    resolved = entry.student != "(ученик не найден)"
    if isinstance(rec, FinalMark):
        class_id = index.class_of.get(rec.student_id, "")
        cu = index.get(ClassUnit, class_id)
        subject = index.get(Subject, rec.subject_id)
        period = index.get(Period, rec.period_id)
        group = index.group_for(class_id, rec.subject_id)
        teacher = group.teacher_ids[0] if group and group.teacher_ids else None
        block = Block(
            class_name=cu.name if cu else "",
            subject=subject.name if subject else "",
            period=(period.name or f"{period.kind.value} {period.ordinal}") if period else "?",
            group_id=group.id if group else None,
            entries=(),
        )
        resolved = resolved and cu is not None and subject is not None and period is not None
        key: tuple[str, ...] = ("final", class_id, rec.subject_id, rec.period_id)
        sort: tuple[object, ...] = (
            date.max,
            0,
            cu.grade if cu else 99,
            cu.letter if cu else "",
            block.subject,
            0,
            block.period,
        )
        return _Draft(key, block, sort, teacher, entry, resolved)

    lesson_id = rec.id if isinstance(rec, Lesson) else str(getattr(rec, "lesson_id", ""))
    lesson = rec if isinstance(rec, Lesson) else None
    lesson = index.get(Lesson, lesson_id) or lesson
    group = index.get(Group, lesson.group_id if lesson else None)
    cu = index.get(ClassUnit, group.class_id if group else None)
    subject = index.get(Subject, group.subject_id if group else None)
    teacher = (
        (lesson.teacher_id if lesson else None)
        or (group.teacher_ids[0] if group and group.teacher_ids else None)
        or getattr(rec, "teacher_id", None)
    )
    block = Block(
        class_name=cu.name if cu else "",
        subject=subject.name if subject else "",
        date=lesson.date if lesson else None,
        number=lesson.number if lesson else None,
        subgroup=group.subgroup if group else 0,
        lesson_id=lesson_id,
        group_id=group.id if group else None,
        entries=(),
    )
    resolved = resolved and lesson is not None and cu is not None and subject is not None
    sort = (
        lesson.date if lesson else date.max,
        lesson.number if lesson else 0,
        cu.grade if cu else 99,
        cu.letter if cu else "",
        block.subject,
        block.subgroup,
        "",
    )
    return _Draft(("lesson", lesson_id), block, sort, teacher, entry, resolved)


def _latest_per_record(items: Iterable[OutboxItem]) -> list[OutboxItem]:
    """One item per record: the newest (queue order) wins; older keys ride along with it."""
    latest: dict[tuple[str, str], OutboxItem] = {}
    for i in items:
        latest[(i.entity, i.record_id)] = i
    return list(latest.values())


def build_worklists(
    store: Store,
    school: str,
    platform: str,
    *,
    channel: PushChannel = PushChannel.WORKLIST,
    now: datetime | None = None,
) -> list[Worklist]:
    """One worklist per teacher of what the outbox still waits for on ``channel``.

    Read-only: call :func:`issue_worklists` once the files are handed out.
    """
    items = [
        i for i in store.outbox(school, platform, status=OPEN_STATUSES) if i.channel == channel
    ]
    all_keys: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i in items:
        all_keys[(i.entity, i.record_id)].append(i.key)
    items = _latest_per_record(items)
    if not items:
        return []
    index = _Index(store, school, platform, items)
    school_rec = next(iter(store.remote_records(school, platform, "school")), None)
    school_name = school_rec.name if isinstance(school_rec, School) else school
    stamp = now or datetime.now(UTC)

    by_teacher: dict[str | None, dict[tuple[str, ...], list[_Draft]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for item in items:
        draft = _draft(item, index)
        if draft is None:
            continue
        keys = tuple(all_keys[(item.entity, item.record_id)])
        draft.entry = replace(draft.entry, keys=keys)
        by_teacher[draft.teacher_id][draft.block_key].append(draft)

    out: list[Worklist] = []
    for teacher_id, blocks in by_teacher.items():
        teacher = index.get(Person, teacher_id)
        ordered = sorted(blocks.values(), key=lambda ds: ds[0].sort_key)
        out.append(
            Worklist(
                school=school,
                school_name=school_name,
                platform=platform,
                teacher_id=teacher_id,
                teacher=full_name(teacher) if teacher else NO_TEACHER,
                generated_at=stamp,
                unresolved=sum(1 for ds in ordered for d in ds if not d.resolved),
                blocks=tuple(
                    replace(ds[0].block, entries=sorted_entries([d.entry for d in ds]))
                    for ds in ordered
                ),
            )
        )
    out.sort(key=lambda w: (w.teacher == NO_TEACHER, name_key(w.teacher), w.teacher_id or ""))
    return out


def issue_worklists(store: Store, school: str, platform: str, worklists: Sequence[Worklist]) -> int:
    """Mark the worklists as handed out: their ``pending`` items become ``awaiting_entry``
    (verified by reconcile once a pull shows the values). Returns how many moved."""
    keys = {k for w in worklists for k in w.keys}
    pending = [i.key for i in store.outbox(school, platform, status="pending") if i.key in keys]
    if pending:
        store.set_outbox_status(pending, "awaiting_entry")
    return len(pending)
