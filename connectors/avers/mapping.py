"""АВЕРС rows → canonical records. Pure: rows in, records or quarantine entries out.

Codes are tables (:class:`core.codes.CodeTable`), not ``if`` chains. A row that cannot be mapped
raises :class:`core.errors.Skippable`, which the caller turns into a quarantine entry naming the
platform record and field — never a person's name or mark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core import platform
from core.codes import WORK_TYPES, AttendanceCode, CodeTable, MarkValue, PeriodKind, Role
from core.codes import split_mark_text as _split_mark_text
from core.connector import Quarantined
from core.errors import MalformedRecord, UnknownCode
from core.model import (
    AcademicYear,
    ClassUnit,
    Enrollment,
    Group,
    Period,
    Person,
    Provenance,
    School,
    Subject,
)

from .schema import Bad, StudentClass

__all__ = [
    "ATTENDANCE_TEXTS",
    "JOURNAL_LABELS",
    "PERIODS",
    "PLATFORM",
    "TERM_KINDS",
    "YEAR_PERIOD",
    "Batch",
    "Mapper",
    "journal_code_table",
    "journal_entity",
    "period_table",
    "person_id",
    "split_name",
    "work_type_table",
]

PLATFORM = "avers"
YEAR_PERIOD = 360004  # «Год»: the academic year's own dates, not a term

# Note §5.1: the numeric code of a GET_STUDENT_JOURNAL_DATA row decides what it is. The build
# 4.1 captures show 104 as «У» (excused) on whole days of absence. «ОСВ» (105) is a value in the
# marks column (exempt from the work), like «ЗАЧТ» and «Н/З».
_JOURNAL_CODES: dict[int, MarkValue | AttendanceCode] = {
    1: MarkValue.ONE,
    2: MarkValue.TWO,
    3: MarkValue.THREE,
    4: MarkValue.FOUR,
    5: MarkValue.FIVE,
    101: MarkValue.FAIL,  # «Н/З» не зачтено
    102: AttendanceCode.ILL,  # «Б» болел
    103: AttendanceCode.ABSENT,  # «Н» отсутствовал
    104: AttendanceCode.EXCUSED,  # «У» уважительная причина (captured, build 4.1)
    105: MarkValue.EXEMPT,  # «ОСВ» освобождён
    106: MarkValue.PASS,  # «ЗАЧТ» зачтено
}

# The text position 2 shows for each code: a row whose text disagrees with its code is
# quarantined rather than trusted either way.
JOURNAL_LABELS: dict[int, str] = {
    **{n: str(n) for n in range(1, 6)},
    101: "Н/З",
    102: "Б",
    103: "Н",
    104: "У",
    105: "ОСВ",
    106: "ЗАЧТ",
}

# Texts that are attendance on this platform (and its older builds: «П», «ОП», «УП», «НП»): an
# unreadable or unmapped row showing one is quarantined as attendance, not as a mark.
ATTENDANCE_TEXTS = frozenset({"Н", "Б", "У", "П", "ОП", "УП", "НП"})

# Note §5.3: the fixed period dictionary → (kind, ordinal). Other ids (administrative control
# works, «Итоговая», attestations) are not terms.
PERIODS: dict[int, tuple[PeriodKind, int]] = {
    360000: (PeriodKind.QUARTER, 1),
    360001: (PeriodKind.QUARTER, 2),
    360002: (PeriodKind.QUARTER, 3),
    360003: (PeriodKind.QUARTER, 4),
    360011: (PeriodKind.HALF_YEAR, 1),
    360012: (PeriodKind.HALF_YEAR, 2),
    360013: (PeriodKind.SEMESTER, 1),
    360014: (PeriodKind.SEMESTER, 2),
    360015: (PeriodKind.TRIMESTER, 1),
    360016: (PeriodKind.TRIMESTER, 2),
    360017: (PeriodKind.TRIMESTER, 3),
    # Not terms, but finals are given for them (GET_STUDENT_DIRECTOR_DATA): the year, the final
    # mark and the attestations. Their dates are the academic year's.
    360004: (PeriodKind.YEAR, 1),
    360018: (PeriodKind.FINAL, 1),  # «Итоговая»
    360020: (PeriodKind.EXAM, 1),  # «Итоговая аттестация»
    360024: (PeriodKind.EXAM, 2),  # «Промежуточная аттестация» (captured)
}
#: Term kinds: the periods a class's year is cut into (the rest span the whole year).
TERM_KINDS = frozenset(
    {PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.SEMESTER, PeriodKind.TRIMESTER}
)

# GET_STUDENT_LESSONS[1]: the type-of-work names (as the SPA shows them) → canonical codes.
# (``null`` is the lesson's plain column, which the SPA labels «Задание».)
_WORK_TYPE_NAMES: dict[str, str] = {
    **{w.name: w.code for w in WORK_TYPES.values()},
    "Задание": "other",
}


def journal_code_table() -> CodeTable[int, MarkValue | AttendanceCode]:
    return CodeTable("avers journal code", "code", _JOURNAL_CODES)


def period_table() -> CodeTable[int, tuple[PeriodKind, int]]:
    return CodeTable("avers period id", "period_id", PERIODS)


def work_type_table() -> CodeTable[str, str]:
    return CodeTable("avers type of work", "work_type", _WORK_TYPE_NAMES)


def person_key(ext_id: int | str) -> str:
    return platform.person_key(PLATFORM, ext_id)


def person_id(school: str, ext_id: int | str) -> str:
    """Canonical id of a person from the platform id alone."""
    return platform.person_id(PLATFORM, school, ext_id)


_INITIALS = re.compile(r"^([^\W\d_])\.\s*(?:([^\W\d_])\.?)?$")


def split_name(name: str) -> tuple[str, str, str]:
    """«Кузнецов К.К.» → (Кузнецов, К, К); «Кузнецов Иван Петрович» → full parts."""
    parts = name.split()
    if not parts:
        raise MalformedRecord("a person has no name", field="name")
    last, rest = parts[0], " ".join(parts[1:])
    m = _INITIALS.match(rest)
    if m:
        return last, m.group(1), m.group(2) or ""
    if len(parts) < 2:
        raise MalformedRecord("a name needs a last and a first name", field="name")
    return last, parts[1], " ".join(parts[2:])


def split_mark_text(text: str) -> MarkValue:
    """A period mark cell («4     », «н/а   »): exactly one value."""
    values = _split_mark_text(text.strip())
    if len(values) != 1:
        raise UnknownCode("a period mark holds more than one value", field="value")
    return values[0]


def journal_entity(code: object, text: object) -> str:
    """The entity a journal row is, even when its code is unknown: attendance or mark."""
    value = _JOURNAL_CODES.get(code) if isinstance(code, int) else None
    if isinstance(value, AttendanceCode):
        return "attendance"
    if value is None and isinstance(text, str) and text.strip().upper() in ATTENDANCE_TEXTS:
        return "attendance"
    return "mark"


@dataclass(slots=True)
class Batch(platform.PageBatch):
    """Records and quarantine entries collected for one page; a bad row carries its own ref."""

    def bad(self, bad: Bad, entity: str) -> None:
        self._add(
            Quarantined(
                entity=entity,
                record=bad.ref,
                field=bad.field,
                reason=f"malformed {bad.what} row: {bad.reason}",
                payload=bad.raw,
            )
        )


class Mapper:
    """Maps one school's rows; holds the code tables so unmapped codes are collected."""

    def __init__(self, school: str, *, fetched_at: datetime | None = None) -> None:
        self.school = school
        self.fetched_at = fetched_at
        self.codes = journal_code_table()
        self.periods = period_table()
        self.work_types = work_type_table()

    def prov(self, **ids: object) -> Provenance:
        return platform.provenance(PLATFORM, ids, fetched_at=self.fetched_at)

    def person_id(self, ext_id: int) -> str:
        return person_id(self.school, ext_id)

    # --- roster ----------------------------------------------------------------------------------

    def school_record(self, name: str, uch_id: int) -> School:
        return School(school=self.school, name=name, provenance=self.prov(uchId=uch_id))

    def year(self, start_year: int, start: date, end: date) -> AcademicYear:
        return AcademicYear(
            school=self.school,
            start_year=start_year,
            start=start,
            end=end,
            provenance=self.prov(uchYear=start_year),
        )

    def period(self, year_id: str, period_id: int, name: str, start: date, end: date) -> Period:
        kind, ordinal = self.periods.lookup(period_id)
        return Period(
            school=self.school,
            year_id=year_id,
            kind=kind,
            ordinal=ordinal,
            start=start,
            end=end,
            name=name,
            provenance=self.prov(id=period_id),
        )

    def person(self, ext_id: int, name: str, roles: Iterable[Role]) -> Person:
        last, first, middle = split_name(name)
        return Person(
            school=self.school,
            key=person_key(ext_id),
            last_name=last,
            first_name=first,
            middle_name=middle,
            roles=tuple(sorted(set(roles))),
            provenance=self.prov(id=ext_id),
        )

    def class_unit(self, year_id: str, row: StudentClass) -> ClassUnit:
        if not 0 <= row.parallel <= 12 or not row.letter.strip():
            raise MalformedRecord("class has no valid parallel and letter", field="letter")
        # The letter arrives right-padded with spaces; the model trims and upper-cases it.
        return ClassUnit(
            school=self.school,
            year_id=year_id,
            grade=row.parallel,
            letter=row.letter,
            provenance=self.prov(cls=row.cls),
        )

    def subject(self, name: str, subject_id: int) -> Subject:
        if not name.strip():
            raise MalformedRecord("subject has no name", field="name")
        return Subject(school=self.school, name=name, provenance=self.prov(id=subject_id))

    def group(
        self,
        class_id: str,
        subject_id: str,
        subgroup: int,
        members: Sequence[int],
        *,
        cls: int,
        platform_subject: int,
    ) -> Group:
        return Group(
            school=self.school,
            class_id=class_id,
            subject_id=subject_id,
            subgroup=subgroup,
            member_ids=tuple(self.person_id(m) for m in sorted(members)) if subgroup else (),
            provenance=self.prov(cls=cls, subject=platform_subject, group_no=subgroup or None),
        )

    def enrollment(self, pupil_id: int, class_id: str, begin: date) -> Enrollment:
        return Enrollment(
            school=self.school,
            student_id=self.person_id(pupil_id),
            class_id=class_id,
            begin=begin,
            provenance=self.prov(student=pupil_id),
        )

    def subject_ids(self, subjects: Mapping[int, Subject]) -> dict[int, str]:
        return {k: v.id for k, v in subjects.items()}
