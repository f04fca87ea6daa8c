"""The roster of a school pull, merged from every account's view.

Sources (WIRE.md): the school and the accounts' own names from ``lms/api/sessions``; the year from
``core/api/academic_years`` (``current_year``, else the last one, as P1/P3 do); students, their
class, groups and absences from ``core/api/student_profiles/{id}``; teachers and who teaches
which group from ``core/api/teacher_profiles``; the periods from one progress report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.codes import Role
from core.errors import ContractError, Skippable
from core.logging import get_logger
from core.model import AcademicYear, ClassUnit, Group, Period, Subject, normalise_subject_name
from core.platform import each_account

from . import schema as s
from .client import PermSession
from .mapping import Batch, Mapper, normalise_code

__all__ = ["ClassInfo", "Roster", "Student", "read_roster"]

_log = get_logger(__name__)


@dataclass(slots=True)
class Student:
    profile: s.StudentProfile
    session: PermSession

    @property
    def id(self) -> int:
        return self.profile.id

    def group_ids(self) -> set[int]:
        return {g.id for g in self.profile.groups if isinstance(g, s.GroupRef)}


@dataclass(slots=True)
class ClassInfo:
    ext_id: int
    record: ClassUnit
    students: list[Student] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Roster:
    batch: Batch
    year: s.AcademicYear
    year_record: AcademicYear
    classes: list[ClassInfo] = field(default_factory=list)
    groups: dict[int, Group] = field(default_factory=dict)  # platform group id → record
    subjects: dict[str, Subject] = field(default_factory=dict)  # normalised name → record
    periods: dict[str, Period] = field(default_factory=dict)  # normalised name → record

    @property
    def start(self) -> date:
        return self.year.begin_date

    @property
    def end(self) -> date:
        return self.year.end_date


def _current_year(years: list[s.AcademicYear | s.Bad]) -> s.AcademicYear:
    good = [y for y in years if isinstance(y, s.AcademicYear)]
    if not good:
        raise ContractError("perm core/api/academic_years: no usable academic year")
    return next((y for y in good if y.current_year), good[-1])


async def read_roster(sessions: list[PermSession], mapper: Mapper, *, limit: int = 1) -> Roster:
    """The school as ``sessions`` see it; ``limit`` accounts are read at once."""
    primary = sessions[0]
    me = await primary.open()
    await each_account(sessions[1:], lambda session: session.open(), limit=limit)
    school_id = me.profile.school_id
    year = _current_year(await primary.academic_years())
    year_rec = mapper.year(year)
    batch = Batch(records=[mapper.school_record(me.profile), year_rec])
    roster = Roster(batch=batch, year=year, year_record=year_rec)

    def same_school(other: int | None) -> bool:
        return school_id is None or other is None or other == school_id

    wanted: dict[int, PermSession] = {}  # student id → the first account showing it
    for session in sessions:
        ident = session.identity
        assert ident is not None
        if not same_school(ident.profile.school_id):
            _log.warning("perm account of another school ignored", account=session.label)
            continue
        if ident.profile.type == "parent":
            info = ident.info
            _person(
                batch,
                mapper,
                ident.profile.id,
                Role.GUARDIAN,
                last=info.last_name,
                first=info.first_name,
                middle=info.middle_name,
                birth_date=info.date_of_birth,
            )
        elif ident.profile.type != "student":
            _log.warning("perm account is neither a student nor a parent", account=session.label)
        for sid in ident.student_ids:
            wanted.setdefault(sid, session)
    profiles = await each_account(
        list(wanted.items()), lambda ws: ws[1].student_profile(ws[0], year.id), limit=limit
    )
    students: dict[int, Student] = {}
    for (sid, session), profile in zip(wanted.items(), profiles, strict=True):
        if same_school(profile.school_id):
            students[sid] = Student(profile, session)

    teachers = await _teachers(primary, roster, mapper, year.id)
    ordered = [students[k] for k in sorted(students)]
    _classes(roster, mapper, ordered, teachers)
    if ordered:
        first = ordered[0]
        _periods(roster, mapper, await first.session.progress(first.id, year.id))
    batch.records += roster.subjects.values()
    batch.records += roster.periods.values()
    return roster


def _person(
    batch: Batch,
    mapper: Mapper,
    profile_id: int,
    role: Role,
    *,
    last: str | None,
    first: str | None,
    middle: str | None,
    full: str = "",
    birth_date: date | None = None,
) -> None:
    try:
        batch.records.append(
            mapper.person(
                profile_id,
                role,
                last=last,
                first=first,
                middle=middle,
                full=full,
                birth_date=birth_date,
            )
        )
    except Skippable as exc:
        batch.skip(exc, "person", f"profile:{profile_id}")


async def _teachers(
    primary: PermSession, roster: Roster, mapper: Mapper, year_id: int
) -> dict[int, set[int]]:
    """Teacher persons into the batch; returns platform group id → teacher profile ids."""
    batch = roster.batch
    by_group: dict[int, set[int]] = {}
    for t in await primary.teacher_profiles(year_id):
        if isinstance(t, s.Bad):
            batch.bad(t, "person", f"teacher_profile:{t.item_id()}")
            continue
        user = t.user
        _person(
            batch,
            mapper,
            t.id,
            Role.TEACHER,
            last=user.last_name if user else None,
            first=user.first_name if user else None,
            middle=user.middle_name if user else None,
            full=t.name,
        )
        for gid in t.assigned_group_ids:
            by_group.setdefault(gid, set()).add(t.id)
    return by_group


def _classes(
    roster: Roster, mapper: Mapper, students: list[Student], teachers: dict[int, set[int]]
) -> None:
    batch = roster.batch
    year_id = roster.year_record.id
    classes: dict[int, ClassInfo] = {}
    members: dict[int, set[int]] = {}
    group_refs: dict[int, s.GroupRef] = {}
    group_class: dict[int, int] = {}
    bad_groups: set[str] = set()
    for st in students:
        p = st.profile
        _person(
            batch,
            mapper,
            p.id,
            Role.STUDENT,
            last=p.last_name,
            first=p.first_name,
            middle=p.middle_name,
            full=p.user_name,
            birth_date=p.birth_date,
        )
        if p.class_unit is None:
            batch.skip(
                Skippable("the student profile has no class_unit", field="class_unit"),
                "enrollment",
                f"student_profile:{p.id}",
            )
            continue
        info = classes.get(p.class_unit.id)
        if info is None:
            try:
                unit = mapper.class_unit(year_id, p.class_unit)
            except Skippable as exc:
                batch.skip(exc, "class_unit", f"class_unit:{p.class_unit.id}")
                continue
            info = classes[p.class_unit.id] = ClassInfo(p.class_unit.id, unit)
            batch.records.append(unit)
        info.students.append(st)
        batch.records.append(mapper.enrollment(p, info.record.id, roster.start))
        for g in p.groups:
            if isinstance(g, s.Bad):
                ref = f"group:{g.item_id()}"
                if ref not in bad_groups:
                    bad_groups.add(ref)
                    batch.bad(g, "group", ref)
                continue
            members.setdefault(g.id, set()).add(p.id)
            if g.id not in group_refs:
                group_refs[g.id] = g
                group_class[g.id] = info.ext_id
                info.group_ids.append(g.id)
    for gid, g in group_refs.items():
        if not g.subject_name:
            batch.skip(
                Skippable("the group has no subject_name", field="subject_name"),
                "group",
                f"group:{gid}",
            )
            continue
        key = normalise_code(normalise_subject_name(g.subject_name))
        subject = roster.subjects.get(key)
        if subject is None:
            subject = roster.subjects[key] = mapper.subject(g.subject_name, g.subject_id)
        group = mapper.group(
            class_id=classes[group_class[gid]].record.id,
            subject_id=subject.id,
            group=g,
            teacher_profile_ids=teachers.get(gid, set()),
            member_profile_ids=members.get(gid, set()),
        )
        roster.groups[gid] = group
        batch.records.append(group)
    roster.classes = [classes[k] for k in sorted(classes)]


def _periods(roster: Roster, mapper: Mapper, progress: list[s.ProgressSubject | s.Bad]) -> None:
    batch = roster.batch
    seen: set[str] = set()
    for subject in progress:
        if isinstance(subject, s.Bad):
            continue  # the finals stream quarantines it, with the student it belongs to
        for p in subject.periods:
            if isinstance(p, s.Bad):
                continue
            key = normalise_code(p.name)
            if key in seen:
                continue
            seen.add(key)
            try:
                roster.periods[key] = mapper.period(roster.year_record.id, p)
            except Skippable as exc:
                batch.skip(exc, "period", f"period:{p.name.strip()}")
