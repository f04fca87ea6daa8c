"""One school's journal as columns: the data path every compliance rule reads.

Rules never walk records one by one. A :class:`JournalFrame` is built once per school — from
canonical records (``_build.frame_from_records``) or straight from the store's tables
(``_load.frame_from_store``, which lets the database pull the fields out of the stored JSON) —
and holds numpy arrays: one row per lesson, mark, homework, attendance entry and final mark, with
references turned into integer indices. Days are proleptic ordinals (``date.toordinal()``),
moments are UTC epoch seconds, and ``-1`` means "not known".

Entry times (when a teacher entered a record) come, in this order, from the platform's own
``provenance.created_at``, from the sync's change history (the moment a pull first saw it), or
are unknown: a record first seen by the very first pull of a school says nothing about when it
was entered (``baseline``), only records that appeared in a later pull do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from core.codes import WORK_TYPES, AttendanceCode, MarkValue, numeric_mark

__all__ = [
    "ABSENCE_CODES",
    "MARK_VALUES",
    "WORK_TYPE_CODES",
    "ChangeEvent",
    "FrameBuilder",
    "GroupMove",
    "JournalFrame",
    "PeriodRow",
    "ReasonFix",
    "epoch",
]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]
B = npt.NDArray[np.bool_]

WORK_TYPE_CODES: tuple[str, ...] = tuple(WORK_TYPES)
MARK_VALUES: tuple[MarkValue, ...] = tuple(MarkValue)
ATTENDANCE_CODES: tuple[AttendanceCode, ...] = tuple(AttendanceCode)
ABSENCE_CODES = frozenset({AttendanceCode.ABSENT, AttendanceCode.EXCUSED, AttendanceCode.ILL})
_WT_INDEX = {c: i for i, c in enumerate(WORK_TYPE_CODES)}
_MV_INDEX = {v.value: i for i, v in enumerate(MARK_VALUES)}
_AC_INDEX = {v.value: i for i, v in enumerate(ATTENDANCE_CODES)}
#: Numeric value of each mark value index (0 = not a 5-point mark).
MARK_NUMERIC = np.array([numeric_mark(v) or 0 for v in MARK_VALUES], dtype=np.int8)


def epoch(value: datetime | str | None) -> int:
    """UTC epoch seconds of an aware datetime or ISO string; -1 for none."""
    if value is None or value == "":
        return -1
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _ordinal(value: date | str | None) -> int:
    if value is None or value == "":
        return -1
    if isinstance(value, str):
        return date.fromisoformat(value[:10]).toordinal()
    return value.toordinal()


def _minutes(value: Any) -> int:
    if value is None or value == "":
        return -1
    text = value if isinstance(value, str) else value.isoformat()
    hh, mm = text.split(":")[:2]
    return int(hh) * 60 + int(mm)


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One entry of a change history (the store's remote change log or local change log)."""

    entity: str
    record_id: str
    at: datetime
    kind: str  # "inserted" | "updated" | "deleted"
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PeriodRow:
    id: str
    kind: str
    ordinal: int
    start: int  # day ordinal
    end: int
    name: str

    @property
    def label(self) -> str:
        return self.name or f"{self.ordinal} ({self.kind})"


@dataclass(frozen=True, slots=True)
class ReasonFix:
    """An absence whose reason was changed from «Н» to a valid one, and when."""

    student: int
    lesson: int
    at: int


@dataclass(frozen=True, slots=True)
class GroupMove:
    """A student moved into or out of a subgroup, and when the change was seen."""

    student: int
    group: int
    joined: bool
    at: int


def _empty_i32() -> I32:
    return np.zeros(0, dtype=np.int32)


@dataclass
class JournalFrame:
    """One school's journal as arrays (see the module docstring)."""

    school: str
    school_name: str = ""
    year: int = 0
    person_ids: list[str] = field(default_factory=list)
    person_names: list[str] = field(default_factory=list)
    class_ids: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    class_grade: I32 = field(default_factory=_empty_i32)
    subject_ids: list[str] = field(default_factory=list)
    subject_names: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    group_class: I32 = field(default_factory=_empty_i32)
    group_subject: I32 = field(default_factory=_empty_i32)
    group_subgroup: I32 = field(default_factory=_empty_i32)
    group_teacher: I32 = field(default_factory=_empty_i32)
    group_members: list[I32] = field(default_factory=list)
    class_students: list[I32] = field(default_factory=list)
    periods: list[PeriodRow] = field(default_factory=list)
    # lessons
    l_group: I32 = field(default_factory=_empty_i32)
    l_day: I32 = field(default_factory=_empty_i32)
    l_number: I32 = field(default_factory=_empty_i32)
    l_shift: I32 = field(default_factory=_empty_i32)
    l_teacher: I32 = field(default_factory=_empty_i32)
    l_end: I32 = field(default_factory=_empty_i32)  # minutes after midnight, -1 unknown
    l_has_topic: B = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    l_topic_at: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # homework
    h_lesson: I32 = field(default_factory=_empty_i32)
    h_at: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # marks
    m_student: I32 = field(default_factory=_empty_i32)
    m_lesson: I32 = field(default_factory=_empty_i32)
    m_wtype: I32 = field(default_factory=_empty_i32)  # index into WORK_TYPE_CODES, -1 unknown
    m_value: I8 = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    m_weight: F32 = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    m_created: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    m_changed: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # attendance
    a_student: I32 = field(default_factory=_empty_i32)
    a_lesson: I32 = field(default_factory=_empty_i32)
    a_code: I8 = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    # finals
    f_student: I32 = field(default_factory=_empty_i32)
    f_subject: I32 = field(default_factory=_empty_i32)
    f_period: I32 = field(default_factory=_empty_i32)
    f_value: I8 = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    f_at: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # events from the change history
    reason_fixes: list[ReasonFix] = field(default_factory=list)
    group_moves: list[GroupMove] = field(default_factory=list)
    #: Entities for which a change history was available (so "no events" means "none happened").
    history: frozenset[str] = frozenset()

    # -- derived columns, cached ------------------------------------------------------------

    @property
    def m_num(self) -> I8:
        out: I8 = MARK_NUMERIC[self.m_value]
        return out

    def lesson_class(self) -> I32:
        out: I32 = self.group_class[self.l_group]
        return out

    def lesson_grade(self) -> I32:
        out: I32 = self.class_grade[self.group_class[self.l_group]]
        return out

    def lesson_period(self) -> I32:
        """Index of the (non-year) period each lesson falls into, -1 when none."""
        out = np.full(len(self.l_day), -1, dtype=np.int32)
        for i, p in enumerate(self.periods):
            if p.kind in ("year", "exam", "final"):
                continue
            out[(self.l_day >= p.start) & (self.l_day <= p.end)] = i
        return out

    def student_name(self, i: int) -> str:
        return self.person_names[i] if i >= 0 else ""

    def teacher_name(self, i: int) -> str:
        return self.person_names[i] if i >= 0 else ""


@dataclass
class FrameBuilder:
    """Collects columns by entity (ids as strings), then resolves references in :meth:`build`."""

    school: str
    cols: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[ChangeEvent] = field(default_factory=list)
    history: set[str] = field(default_factory=set)
    #: UTC epoch of the school's first pull, when the source knows it (else derived).
    baseline: int | None = None

    def add(self, entity: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Add whole columns; an entity is added once (a second call replaces it)."""
        self.cols[entity] = {name: values for name, values in columns.items()}

    def col(self, entity: str, name: str) -> Any:
        return self.cols.get(entity, {}).get(name, [])


#: Fields each entity contributes to a frame (record attribute or provenance time).
FIELDS: Mapping[str, tuple[str, ...]] = {
    "school": ("name",),
    "academic_year": ("start_year",),
    "person": ("id", "last_name", "first_name", "middle_name"),
    "class_unit": ("id", "grade", "letter"),
    "subject": ("id", "name"),
    "group": ("id", "class_id", "subject_id", "subgroup", "teacher_ids", "member_ids"),
    "enrollment": ("student_id", "class_id", "begin", "end"),
    "period": ("id", "kind", "ordinal", "start", "end", "name"),
    "lesson": (
        "id",
        "group_id",
        "date",
        "number",
        "shift",
        "teacher_id",
        "end_time",
        "has_topic",
        "created_at",
        "first_seen",
    ),
    "homework": ("lesson_id", "created_at", "first_seen"),
    "mark": (
        "student_id",
        "lesson_id",
        "work_type",
        "value",
        "weight",
        "created_at",
        "updated_at",
        "first_seen",
    ),
    "attendance": ("student_id", "lesson_id", "code"),
    "final_mark": ("student_id", "subject_id", "period_id", "value", "created_at", "first_seen"),
}


def codes() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Work type, mark value and attendance code → column index."""
    return _WT_INDEX, _MV_INDEX, _AC_INDEX
