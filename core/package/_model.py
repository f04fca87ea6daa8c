"""The package: what a platform operator loads, with the roster it needs to name things."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeVar

from core.codes import PeriodKind
from core.model import (
    AcademicYear,
    ClassUnit,
    Enrollment,
    FinalMark,
    Group,
    Lesson,
    Period,
    Person,
    Record,
    School,
    Subject,
)

__all__ = ["Package", "PackageItem", "Scope", "full_name", "name_key"]

Scope = Literal["outbox", "journal"]
R = TypeVar("R", bound=Record)


def full_name(person: Person) -> str:
    return " ".join(p for p in (person.last_name, person.first_name, person.middle_name) if p)


def name_key(name: str) -> str:
    return name.lower().replace("ё", "е")


@dataclass(frozen=True, slots=True)
class PackageItem:
    """One record to load (or delete) on the platform; ``keys`` are the outbox items it settles
    (empty for a migration package, which settles nothing in the outbox)."""

    record: Record
    op: Literal["upsert", "delete"] = "upsert"
    keys: tuple[str, ...] = ()

    @property
    def entity(self) -> str:
        return self.record.ENTITY


@dataclass(frozen=True)
class Package:
    """A bulk import package for one school on one platform.

    ``items`` are the journal entries (marks, attendance, topics, homework, final marks) and
    roster changes to load; the roster tuples (school, years, periods, people, classes, subjects,
    groups, enrollments, lessons) are what those entries refer to, taken from the platform's
    snapshot (local records where the platform has none yet).
    """

    school: str
    platform: str
    scope: Scope
    generated_at: datetime
    school_record: School
    items: tuple[PackageItem, ...]
    years: tuple[AcademicYear, ...] = ()
    periods: tuple[Period, ...] = ()
    persons: tuple[Person, ...] = ()
    classes: tuple[ClassUnit, ...] = ()
    subjects: tuple[Subject, ...] = ()
    groups: tuple[Group, ...] = ()
    enrollments: tuple[Enrollment, ...] = ()
    lessons: tuple[Lesson, ...] = ()
    #: Students of each group in the package (the whole group in a migration; in an outbox
    #: package only the students the changes are about).
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Items whose lesson, group, class or student could not be named from the snapshot.
    unresolved: int = 0
    #: The school's time zone (the config's): the README and workbooks print times in it.
    timezone: str = "Europe/Moscow"
    _index: dict[str, Record] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for rec in self._roster():
            self._index[rec.id] = rec

    def _roster(self) -> Iterator[Record]:
        yield self.school_record
        for recs in (
            self.years,
            self.periods,
            self.persons,
            self.classes,
            self.subjects,
            self.groups,
            self.enrollments,
            self.lessons,
        ):
            yield from recs

    def get(self, cls: type[R], rid: str | None) -> R | None:
        """A roster record by id, if it is of ``cls``."""
        rec = self._index.get(rid or "")
        return rec if isinstance(rec, cls) else None

    @property
    def keys(self) -> list[str]:
        """The outbox keys this package settles once loaded."""
        return [k for i in self.items for k in i.keys]

    @property
    def counts(self) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i.entity] = out.get(i.entity, 0) + 1
        return dict(sorted(out.items()))

    def file_name(self) -> str:
        """«school-1-kiasuo-2026-03-14.zip»"""
        return f"{self.school}-{self.platform}-{self.generated_at:%Y-%m-%d}.zip"

    def get_class(self, class_id: str) -> ClassUnit | None:
        return self.get(ClassUnit, class_id)

    def subject_name(self, subject_id: str) -> str:
        subject = self.get(Subject, subject_id)
        return subject.name if subject else "?"

    def final_group(self, fm: FinalMark) -> Group | None:
        """The student's group in the final mark's subject."""
        return next(
            (
                g
                for g in sorted(self.groups, key=lambda g: (g.subgroup, g.id))
                if g.subject_id == fm.subject_id and fm.student_id in self.members.get(g.id, ())
            ),
            None,
        )

    def period_of(self, day: date) -> Period | None:
        """The shortest marking period holding ``day`` (a quarter before its half-year)."""
        holding = [
            p
            for p in self.periods
            if p.start <= day <= p.end and p.kind not in (PeriodKind.EXAM, PeriodKind.FINAL)
        ]
        return min(holding, key=lambda p: ((p.end - p.start).days, p.id), default=None)
