"""The school roster, merged from what every family account sees.

КИАСУО shows one family per account, so the roster of a school is the union of its accounts'
views: each child (``/api/user``) with its class (``/api/school_classes``), terms
(``/api/study_periods``), teachers and classmates (``/api/recipients``) and the subject journals
it is in (``/api/lesson_marks/{term}``, whose per-subject ``id`` is taken as the teaching group).
Class and terms are read once per class, recipients once per class and set of journals, the
journals per child (:func:`_read_views`; the grain is a guess, WIRE.md).

Subgroups are not named by the API: children of one class who see *different* journal ids for a
subject are in different subgroups, numbered 1, 2, … in the order of those ids; a subject with
one journal id in the class is taught to the whole class (subgroup 0). A guess (WIRE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from core.connector import Quarantined
from core.errors import ConfigError, ContractError, Skippable
from core.model import (
    AcademicYear,
    ClassUnit,
    Period,
    normalise_class_name,
    normalise_subject_name,
)
from core.platform import each_account

from . import schema as s
from ._weeks import IsoWeek, iso_week
from .client import Account, KiasuoClient
from .mapping import Batch, Mapper, StaffEntry, parse_staff_name, short_key

__all__ = ["ClassView", "Roster", "Viewer", "read_roster"]


@dataclass(slots=True)
class Viewer:
    """One child seen through one account (a child seen by two accounts is read once)."""

    account: Account
    child: s.Child
    class_key: str
    staff: list[StaffEntry] = field(default_factory=list)
    #: normalised subject → the platform journal id ("" when the payload gave none)
    journals: dict[str, str] = field(default_factory=dict)
    #: normalised subject → canonical group id
    groups: dict[str, str] = field(default_factory=dict)

    def teacher(self, short_name: str | None, subject: str, roster: Roster) -> str | None:
        """The canonical id of the lesson's teacher from its short name, or None."""
        if not short_name:
            return None
        key = short_key(short_name)
        mine = [e for e in self.staff if short_key(e.short_name) == key]
        if len(mine) > 1:
            mine = [e for e in mine if subject in e.subjects] or mine
        if len({e.user_id for e in mine}) == 1:
            return roster.mapper.person_id(mine[0].user_id)
        everyone = {e.user_id for e in roster.staff.values() if short_key(e.short_name) == key}
        if len(everyone) == 1:  # a substitute: not in this child's recipients
            return roster.mapper.person_id(everyone.pop())
        return None


@dataclass(slots=True)
class ClassView:
    key: str  # «7А»
    unit: ClassUnit
    platform_id: str | None
    viewers: list[Viewer] = field(default_factory=list)


@dataclass(slots=True)
class Roster:
    mapper: Mapper
    batch: Batch
    year: AcademicYear
    periods: list[tuple[s.StudyPeriod, Period]]
    classes: dict[str, ClassView]
    subjects: dict[str, str]  # normalised name → canonical subject id
    staff: dict[int, StaffEntry]
    #: class key → ISO weeks holding a slot updated after the ``since`` mark
    changed: dict[str, set[IsoWeek]] = field(default_factory=dict)
    watermark: datetime | None = None


@dataclass(slots=True)
class _Raw:
    viewers: list[Viewer] = field(default_factory=list)
    class_ids: dict[str, str] = field(default_factory=dict)  # class key → platform id
    periods: dict[int, s.StudyPeriod] = field(default_factory=dict)
    school_name: str = ""
    study_year: str = ""
    classmates: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (name, class)
    slot_days: list[tuple[str, date, datetime]] = field(default_factory=list)


def _class_key(name: str) -> str | None:
    try:
        grade, letter = normalise_class_name(name)
    except ValueError:
        return None
    return f"{grade}{letter}"


async def read_roster(
    client: KiasuoClient,
    mapper: Mapper,
    *,
    school_label: str,
    until: date,
    since: datetime | None,
    limit: int = 1,
) -> Roster:
    """Read every account's view; ``until`` bounds the terms read, ``since`` marks changes;
    ``limit`` accounts at once (the per-host limit)."""
    batch = Batch()
    raw = await _read_views(client, batch, until, limit)
    if not raw.viewers:
        raise ConfigError(
            f"kiasuo: the accounts configured for school {school_label!r} show no children",
            hint="configure the refresh tokens of parents (or students) of this school",
        )
    year, periods = _year_and_periods(mapper, raw, batch)
    roster = Roster(
        mapper=mapper,
        batch=batch,
        year=year,
        periods=periods,
        classes={},
        subjects={},
        staff={},
    )
    batch.records += [mapper.school_record(raw.school_name or school_label), year]
    batch.records += [p for _, p in periods]
    _classes_and_people(roster, raw)
    _subjects_and_groups(roster)
    for key, day, stamp in raw.slot_days:
        if roster.watermark is None or stamp > roster.watermark:
            roster.watermark = stamp
        if since is not None and stamp > since:
            roster.changed.setdefault(key, set()).add(iso_week(day))
    return roster


@dataclass(slots=True)
class _ChildAnswers:
    """What one child's account answered, read before any of it is merged (in account order).

    ``classes``, ``periods`` and ``recipients`` may be another child's answer, shared (see
    :func:`_read_views`); ``marks`` is always the child's own."""

    classes: list[s.SchoolClass | s.Bad]
    periods: list[s.StudyPeriod | s.Bad]
    recipients: s.Recipients
    marks: list[tuple[s.StudyPeriod, s.LessonMarks]]


@dataclass(slots=True)
class _Unit:
    """Children of one class, as ``/api/user`` names it, whose first child reads the class's
    dictionaries (``school_classes``, ``study_periods``) for all of them."""

    members: list[tuple[Account, s.Child]] = field(default_factory=list)
    classes: list[s.SchoolClass | s.Bad] = field(default_factory=list)
    periods: list[s.StudyPeriod | s.Bad] = field(default_factory=list)


def _units(children: Sequence[tuple[Account, s.Child]]) -> list[_Unit]:
    """The children by the class ``/api/user`` names (``children[].school_class``), in order of
    first appearance; a child whose class name is not one reads everything itself."""
    units: dict[str | int, _Unit] = {}
    for account, child in children:
        key: str | int = _class_key(child.school_class) or child.id
        units.setdefault(key, _Unit()).members.append((account, child))
    return list(units.values())


def _signature(marks: Sequence[tuple[s.StudyPeriod, s.LessonMarks]]) -> frozenset[str] | None:
    """The subject journals a child sees (its teaching groups), or None when an item was lost
    or carries no journal id (the child's groups are not known then: it reads its own)."""
    journals: set[str] = set()
    for _, answer in marks:
        for subj in answer.lessons:
            if isinstance(subj, s.Bad) or not subj.id:
                return None
            journals.add(f"{normalise_subject_name(subj.subject)}\x00{subj.id}")
    return frozenset(journals)


async def _read_views(client: KiasuoClient, batch: Batch, until: date, limit: int) -> _Raw:
    """Every child's view, with what is the same for a class read once for it (WIRE.md):

    * ``school_classes`` and ``study_periods`` once per class (the first child of each class
      named by ``/api/user``) — a class's terms and current class are its pupils' [I];
    * ``lesson_marks`` per child (its own journals: the subgroups, and ``updated_at``);
    * ``recipients`` once per class and set of journals: classmates are the class's, and the
      staff a child sees are the teachers of its groups (and the school's administration), so
      children in the same groups see the same staff [I]; a child of another subgroup reads
      its own, so a subgroup's teacher is still known.
    """
    raw = _Raw()
    users = await each_account(
        client.accounts,
        # read at login, moments ago, unless the pull logged in without it
        lambda a: _known(a.user) if a.user is not None else client.user(a),
        limit=limit,
    )
    seen: set[int] = set()
    children: list[tuple[Account, s.Child]] = []
    for account, user in zip(client.accounts, users, strict=True):
        for child in user.children:
            if isinstance(child, s.Bad):
                batch.bad(child, "person", f"child:{child.item_id()}")
                continue
            if child.id in seen:
                continue  # two parents of one child: read once
            seen.add(child.id)
            children.append((account, child))
    # Each class's dictionaries through its first child, the classes at once (per-host limit).
    units = _units(children)
    await each_account(units, lambda u: _ask_class(client, u), limit=limit)
    unit_of = {child.id: unit for unit in units for _, child in unit.members}
    # Every child's journals through its own account, at once.
    marks = await each_account(
        children,
        lambda ac: _ask_marks(client, ac[0], ac[1], unit_of[ac[1].id].periods, until),
        limit=limit,
    )
    # Recipients once per class and set of journals (the first child of each), at once.
    readers: dict[tuple[int, frozenset[str] | int], int] = {}
    shared: list[int] = []
    for n, ((_, child), own) in enumerate(zip(children, marks, strict=True)):
        sig = _signature(own)
        shared.append(
            readers.setdefault((id(unit_of[child.id]), child.id if sig is None else sig), n)
        )
    asked = sorted(set(shared))
    answers = await each_account(
        asked, lambda n: client.recipients(children[n][0], children[n][1].id), limit=limit
    )
    recipients = dict(zip(asked, answers, strict=True))
    staff = {n: _staff(answer) for n, answer in recipients.items()}
    for n, (account, child) in enumerate(children):
        unit = unit_of[child.id]
        answer = _ChildAnswers(unit.classes, unit.periods, recipients[shared[n]], marks[n])
        _merge_child(account, child, answer, raw, batch, staff[shared[n]], reader=shared[n] == n)
    return raw


def _staff(recipients: s.Recipients) -> list[StaffEntry]:
    """The staff of one ``/api/recipients`` answer: role («Учителя», …) → {display name → id}."""
    return [
        parse_staff_name(display, user_id)
        for people in recipients.staff.values()
        for display, user_id in people.items()
        if user_id is not None
    ]


async def _known(user: s.User) -> s.User:
    return user


def _wanted(periods: list[s.StudyPeriod | s.Bad], until: date) -> list[s.StudyPeriod]:
    """The child's terms begun by ``until`` (or its first), in date order."""
    own = sorted((p for p in periods if isinstance(p, s.StudyPeriod)), key=lambda p: p.start)
    return [p for p in own if p.start <= until] or own[:1]


async def _ask_class(client: KiasuoClient, unit: _Unit) -> None:
    account, child = unit.members[0]
    unit.classes = await client.school_classes(account, child.id)
    unit.periods = await client.study_periods(account, child.id)


async def _ask_marks(
    client: KiasuoClient,
    account: Account,
    child: s.Child,
    periods: list[s.StudyPeriod | s.Bad],
    until: date,
) -> list[tuple[s.StudyPeriod, s.LessonMarks]]:
    return [
        (sp, await client.lesson_marks(account, child.id, sp.id)) for sp in _wanted(periods, until)
    ]


def _merge_child(
    account: Account,
    child: s.Child,
    answer: _ChildAnswers,
    raw: _Raw,
    batch: Batch,
    staff: list[StaffEntry],
    *,
    reader: bool,
) -> None:
    """Merge one child's answers; ``staff`` is its recipients' (shared by the children that
    share them); classmates are taken from the ``reader`` of a recipients answer only (the
    others share the same answer)."""
    classes = [c for c in answer.classes if isinstance(c, s.SchoolClass)]
    current = max(classes, key=lambda c: c.study_year, default=None)
    key = _class_key(current.name if current else child.school_class)
    if key is None:
        batch.quarantine.append(
            _q("class_unit", f"child:{child.id}", "school_class", "not a class name")
        )
        return
    if current is not None:
        raw.class_ids.setdefault(key, current.id)
        raw.school_name = raw.school_name or current.ou.strip()
        raw.study_year = max(raw.study_year, current.study_year)
    viewer = Viewer(account=account, child=child, class_key=key, staff=staff)
    for sp in answer.periods:
        if isinstance(sp, s.Bad):
            bad_ref = f"study_period:{sp.item_id()}"
            if all(q.record != bad_ref for q in batch.quarantine):
                batch.bad(sp, "period", bad_ref)
            continue
        raw.periods.setdefault(sp.id, sp)
    if reader:
        for display, mate in answer.recipients.students.items():
            if mate.id is not None and mate.id != child.id:
                raw.classmates.setdefault(mate.id, (display, key))
    for sp, marks in answer.marks:
        for subj in marks.lessons:
            if isinstance(subj, s.Bad):
                ref = f"lesson_marks:{sp.id}/child:{child.id}/subject:{subj.item_id()}"
                batch.bad(subj, "group", ref)
                continue
            viewer.journals.setdefault(normalise_subject_name(subj.subject), subj.id or "")
            for slot in subj.slots:
                if isinstance(slot, s.SlotStamp) and slot.updated_at is not None:
                    raw.slot_days.append((key, slot.lesson_date, slot.updated_at))
    raw.viewers.append(viewer)


def _q(entity: str, record: str, field_name: str, reason: str) -> Quarantined:
    return Quarantined(entity=entity, record=record, field=field_name, reason=reason)


def _year_and_periods(
    mapper: Mapper, raw: _Raw, batch: Batch
) -> tuple[AcademicYear, list[tuple[s.StudyPeriod, Period]]]:
    terms = sorted(raw.periods.values(), key=lambda p: (p.start, p.id))
    if not terms:
        raise ContractError("kiasuo: the accounts show no study periods (/api/study_periods)")
    start, end = terms[0].start, max(p.end for p in terms)
    digits = raw.study_year[:4]
    start_year = (
        int(digits) if digits.isdigit() else (start.year if start.month >= 7 else start.year - 1)
    )
    year = mapper.year(start_year, start, end)
    periods: list[tuple[s.StudyPeriod, Period]] = []
    for sp in terms:
        try:
            periods.append((sp, mapper.period(year.id, sp)))
        except Skippable as exc:
            batch.skip(exc, "period", f"study_period:{sp.id}", sp.model_dump(mode="json"))
    return year, periods


def _classes_and_people(roster: Roster, raw: _Raw) -> None:
    m, batch = roster.mapper, roster.batch
    students: set[int] = set()
    for viewer in raw.viewers:
        cls = roster.classes.get(viewer.class_key)
        if cls is None:
            platform_id = raw.class_ids.get(viewer.class_key)
            unit = m.class_unit(roster.year.id, viewer.class_key, platform_id)
            cls = roster.classes[viewer.class_key] = ClassView(viewer.class_key, unit, platform_id)
            batch.records.append(unit)
        cls.viewers.append(viewer)
        person = m.student(viewer.child)
        students.add(viewer.child.id)
        batch.records += [
            person,
            m.enrollment(person.id, cls.unit.id, roster.year.start, viewer.child.id),
        ]
        for entry in viewer.staff:
            known = roster.staff.get(entry.user_id)
            roster.staff[entry.user_id] = (
                entry
                if known is None
                else StaffEntry(
                    entry.user_id,
                    known.last_name,
                    known.first_name,
                    known.middle_name,
                    known.subjects | entry.subjects,
                )
            )
    for user_id, (display, key) in sorted(raw.classmates.items()):
        if user_id in students:
            continue
        # A classmate whose family has no account here: known by «Фамилия Имя» only.
        person = m.classmate(display, user_id)
        batch.records += [
            person,
            m.enrollment(person.id, roster.classes[key].unit.id, roster.year.start, user_id),
        ]
    batch.records += [m.staff(e) for _, e in sorted(roster.staff.items())]


def _numeric(platform_id: str) -> tuple[int, str]:
    return (int(platform_id), "") if platform_id.isdigit() else (1 << 62, platform_id)


def _subjects_and_groups(roster: Roster) -> None:
    m, batch = roster.mapper, roster.batch
    for cls in roster.classes.values():
        by_subject: dict[str, dict[str, list[Viewer]]] = {}
        for viewer in cls.viewers:
            for subject, journal in viewer.journals.items():
                by_subject.setdefault(subject, {}).setdefault(journal, []).append(viewer)
        for subject in sorted(by_subject):
            if subject not in roster.subjects:
                rec = m.subject(subject)
                roster.subjects[subject] = rec.id
                batch.records.append(rec)
            journals = by_subject[subject]
            ordered = sorted(journals, key=_numeric)
            for n, journal in enumerate(ordered, start=1):
                members = sorted(journals[journal], key=lambda v: v.child.id)
                subgroup = 0 if len(ordered) == 1 else n
                group = m.group(
                    class_id=cls.unit.id,
                    subject_id=roster.subjects[subject],
                    subgroup=subgroup,
                    teacher_ids=_teachers(roster, members, subject),
                    member_ids=[m.person_id(v.child.id) for v in members] if subgroup else (),
                    platform_id=journal or None,
                )
                batch.records.append(group)
                for viewer in members:
                    viewer.groups[subject] = group.id


def _teachers(roster: Roster, members: Sequence[Viewer], subject: str) -> list[str]:
    ids = sorted({e.user_id for v in members for e in v.staff if subject in e.subjects})
    return [roster.mapper.person_id(i) for i in ids]
