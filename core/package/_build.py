"""Build a package from the store: the outbox's ``package`` items, or a whole local journal.

Names and ids come from the remote snapshot (what the platform shows), with the local journal as
a fallback for what the platform does not have yet; a migration (``scope="journal"``) merges the
local roster over the snapshot's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

from core.codes import Role
from core.connector import PushChannel
from core.errors import ConfigError
from core.logging import get_logger
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
    Record,
    School,
    Subject,
)
from core.package._model import Package, PackageItem, Scope
from core.store import OutboxItem, Store

__all__ = ["JOURNAL_ENTITIES", "OPEN_STATUSES", "build_package", "issue_package"]

log = get_logger(__name__)

#: Outbox items still to be loaded: not yet in a package, or in one and not yet seen loaded.
OPEN_STATUSES = ("pending", "awaiting_entry")
#: The journal entries a package carries (the rest of a school's records are its roster).
JOURNAL_ENTITIES = ("lesson", "homework", "mark", "attendance", "final_mark")
_ROSTER = ("school", "academic_year", "period", "person", "class_unit", "subject", "group",
           "enrollment")  # fmt: skip
_PEOPLE_ROLES = frozenset({Role.STUDENT, Role.TEACHER})
T = TypeVar("T", bound=Record)


class _Roster:
    """Roster records by id: the snapshot's, with local ones merged under or over them."""

    def __init__(self, store: Store, school: str, platform: str, *, local_wins: bool) -> None:
        self.by_id: dict[str, Record] = {}
        for local in (not local_wins, local_wins):
            for entity in _ROSTER:
                recs = (
                    store.local_records(school, entity)
                    if local
                    else store.remote_records(school, platform, entity)
                )
                for rec in recs:
                    self.by_id[rec.id] = rec

    def of(self, cls: type[Record]) -> list[Record]:
        return [r for r in self.by_id.values() if isinstance(r, cls)]


def _latest_per_record(items: Iterable[OutboxItem]) -> list[tuple[OutboxItem, tuple[str, ...]]]:
    """One item per record, the newest (queue order) winning; older keys ride along with it."""
    latest: dict[tuple[str, str], OutboxItem] = {}
    keys: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i in items:
        latest[(i.entity, i.record_id)] = i
        keys[(i.entity, i.record_id)].append(i.key)
    return [(i, tuple(keys[k])) for k, i in latest.items()]


def _outbox_items(store: Store, school: str, platform: str) -> list[PackageItem]:
    open_items = [
        i
        for i in store.outbox(school, platform, status=OPEN_STATUSES)
        if i.channel == PushChannel.PACKAGE.value
    ]
    return [
        PackageItem(record=i.record, op="delete" if i.op == "delete" else "upsert", keys=keys)
        for i, keys in _latest_per_record(open_items)
    ]


def _journal_items(store: Store, school: str) -> list[PackageItem]:
    return [
        PackageItem(record=rec)
        for entity in JOURNAL_ENTITIES
        for rec in store.local_records(school, entity)
    ]


def _lessons(
    store: Store, school: str, platform: str, wanted: set[str], *, local_wins: bool
) -> dict[str, Lesson]:
    out: dict[str, Lesson] = {}
    for local in (not local_wins, local_wins):
        recs = (
            store.local_records(school, "lesson")
            if local
            else store.remote_records(school, platform, "lesson")
        )
        for rec in recs:
            if rec.id in wanted and isinstance(rec, Lesson):
                out[rec.id] = rec
    return out


def _lesson_id(rec: Record) -> str | None:
    if isinstance(rec, Lesson):
        return rec.id
    if isinstance(rec, Mark | Attendance | Homework):
        return rec.lesson_id
    return None


class _Scoper:
    """Finds each item's group and each group's students in the roster."""

    def __init__(self, roster: _Roster, lessons: dict[str, Lesson]) -> None:
        self.roster = roster
        self.lessons = lessons
        self.groups = sorted(
            (g for g in roster.of(Group) if isinstance(g, Group)), key=lambda g: (g.subgroup, g.id)
        )
        self.enrollments = [e for e in roster.of(Enrollment) if isinstance(e, Enrollment)]
        self.classes_of: dict[str, list[str]] = defaultdict(list)
        for e in sorted(self.enrollments, key=lambda e: (e.begin, e.id)):
            self.classes_of[e.student_id].append(e.class_id)
        #: Students with lesson entries in a group: members even where the platform shows no
        #: enrollments (NetSchool, for one, lists a class's students only through its lessons).
        self.seen: dict[str, set[str]] = defaultdict(set)

    def get(self, rid: str | None) -> Record | None:
        return self.roster.by_id.get(rid or "")

    def lesson_group(self, rec: Record) -> Group | None:
        lesson = self.lessons.get(_lesson_id(rec) or "")
        group = self.get(lesson.group_id) if lesson else None
        return group if isinstance(group, Group) else None

    def final_group(self, fm: FinalMark) -> Group | None:
        """The student's group in the subject: in their latest class, else one they are in."""
        for class_id in reversed(self.classes_of.get(fm.student_id, [])):
            for g in self.groups:
                if (
                    g.class_id == class_id
                    and g.subject_id == fm.subject_id
                    and (not g.member_ids or fm.student_id in g.member_ids)
                ):
                    return g
        return next(
            (
                g
                for g in self.groups
                if g.subject_id == fm.subject_id and fm.student_id in self.members(g)
            ),
            None,
        )

    def members(self, group: Group) -> set[str]:
        base = set(group.member_ids) or {
            e.student_id for e in self.enrollments if e.class_id == group.class_id
        }
        return base | self.seen[group.id]


def _resolved(item: PackageItem, scoper: _Scoper, group: Group | None) -> bool:
    rec = item.record
    student = getattr(rec, "student_id", None)
    if student is not None and not isinstance(scoper.get(student), Person):
        return False
    if isinstance(rec, Mark | Attendance | Homework | Lesson | FinalMark):
        return group is not None and isinstance(scoper.get(group.class_id), ClassUnit)
    return True


def build_package(
    store: Store,
    school: str,
    platform: str,
    *,
    scope: Scope = "outbox",
    now: datetime | None = None,
) -> Package:
    """The package for ``school`` on ``platform``. Read-only: call :func:`issue_package` once
    the files are handed to the operator.

    ``scope="outbox"``: the open outbox items of the ``package`` channel (the changes the
    operator must load, with only the roster they refer to); ``scope="journal"``: the school's
    whole local journal merged over the snapshot's roster (a migration).
    """
    if scope not in ("outbox", "journal"):
        raise ConfigError(f"unknown package scope {scope!r}", hint="use outbox or journal")
    journal = scope == "journal"
    items = _journal_items(store, school) if journal else _outbox_items(store, school, platform)
    roster = _Roster(store, school, platform, local_wins=journal)
    # roster changes in the outbox are what the platform should show: they win over the snapshot
    for i in items:
        if i.entity in _ROSTER and i.op == "upsert":
            roster.by_id[i.record.id] = i.record
    wanted = {lid for i in items if (lid := _lesson_id(i.record))}
    scoper = _Scoper(roster, _lessons(store, school, platform, wanted, local_wins=journal))
    for i in items:
        sid = getattr(i.record, "student_id", None)
        if sid is not None and (g := scoper.lesson_group(i.record)) is not None:
            scoper.seen[g.id].add(sid)

    groups: dict[str, Group] = {}
    members: dict[str, set[str]] = defaultdict(set)
    unresolved = 0
    for item in items:
        rec = item.record
        group = scoper.final_group(rec) if isinstance(rec, FinalMark) else scoper.lesson_group(rec)
        if group is not None:
            groups[group.id] = group
            if (sid := getattr(rec, "student_id", None)) is not None:
                members[group.id].add(sid)
        if not _resolved(item, scoper, group):
            unresolved += 1
        if isinstance(rec, Group):
            groups[rec.id] = rec
    if journal:
        groups = {g.id: g for g in scoper.groups}
        for g in scoper.groups:
            members[g.id] |= scoper.members(g)
    students = {sid for ids in members.values() for sid in ids}
    students |= {
        getattr(i.record, "student_id", i.record.id)
        for i in items
        if isinstance(i.record, Person | Enrollment)
    }

    class_ids = {g.class_id for g in groups.values()}
    class_ids |= {i.record.id for i in items if isinstance(i.record, ClassUnit)}
    subject_ids = {g.subject_id for g in groups.values()}
    subject_ids |= {i.record.id for i in items if isinstance(i.record, Subject)}
    people = students | {t for g in groups.values() for t in g.teacher_ids}

    def pick(cls: type[T], ids: set[str] | None = None) -> tuple[T, ...]:
        return tuple(
            sorted(
                (r for r in roster.of(cls) if isinstance(r, cls) and (ids is None or r.id in ids)),
                key=lambda r: r.id,
            )
        )

    school_rec = next(iter(pick(School)), None) or School(school=school, name=school)
    package = Package(
        school=school,
        platform=platform,
        scope=scope,
        generated_at=now or datetime.now(UTC),
        school_record=school_rec,
        items=tuple(sorted(items, key=lambda i: (i.entity, i.record.id))),
        years=pick(AcademicYear),
        periods=pick(Period),
        persons=tuple(p for p in pick(Person, people) if _PEOPLE_ROLES & set(p.roles)),
        classes=pick(ClassUnit, class_ids),
        subjects=pick(Subject, subject_ids),
        groups=tuple(sorted(groups.values(), key=lambda g: g.id)),
        enrollments=tuple(
            e
            for e in sorted(scoper.enrollments, key=lambda e: e.id)
            if e.student_id in students and e.class_id in class_ids
        ),
        lessons=tuple(sorted(scoper.lessons.values(), key=lambda le: le.id)),
        members={gid: tuple(sorted(ids)) for gid, ids in sorted(members.items()) if gid in groups},
        unresolved=unresolved,
    )
    log.info("package built", scope=scope, unresolved=unresolved, **package.counts)
    return package


def issue_package(store: Store, school: str, platform: str, package: Package) -> int:
    """Mark the package as handed to the operator: its ``pending`` items become
    ``awaiting_entry`` (verified by reconcile once a pull shows the values). Returns how many
    moved."""
    keys = set(package.keys)
    pending = [i.key for i in store.outbox(school, platform, status="pending") if i.key in keys]
    if pending:
        store.set_outbox_status(pending, "awaiting_entry")
    return len(pending)
