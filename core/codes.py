"""Canonical code lists: mark values, attendance codes, work types, period kinds, roles.

These are data, not ``if`` chains. Connectors ship mapping tables from their platform's codes to
these; an unmapped code raises :class:`core.errors.UnknownCode` so the record is quarantined
(never silently dropped).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from core.errors import UnknownCode

__all__ = [
    "ATTENDANCE_LABELS",
    "MARK_LABELS",
    "WORK_TYPES",
    "AttendanceCode",
    "CodeTable",
    "MarkValue",
    "MovementKind",
    "PeriodKind",
    "Role",
    "WorkType",
    "numeric_mark",
    "split_mark_text",
]


class MarkValue(StrEnum):
    ONE = "1"
    TWO = "2"
    THREE = "3"
    FOUR = "4"
    FIVE = "5"
    PASS = "pass"  # зачёт
    FAIL = "fail"  # незачёт
    EXEMPT = "osv"  # освобождён
    NOT_ATTESTED = "na"  # не аттестован, Н/А
    DOT = "dot"  # «точка»: debt / provisional mark


MARK_LABELS: Mapping[MarkValue, str] = {
    MarkValue.ONE: "1",
    MarkValue.TWO: "2",
    MarkValue.THREE: "3",
    MarkValue.FOUR: "4",
    MarkValue.FIVE: "5",
    MarkValue.PASS: "зачёт",
    MarkValue.FAIL: "незачёт",
    MarkValue.EXEMPT: "осв.",
    MarkValue.NOT_ATTESTED: "н/а",
    MarkValue.DOT: "·",
}

_NUMERIC = {MarkValue(str(n)): n for n in range(1, 6)}


def numeric_mark(value: MarkValue) -> int | None:
    """The number behind a 5-point mark, or ``None`` for pass/fail, ОСВ, Н/А and «точка»."""
    return _NUMERIC.get(value)


_MARK_WORDS: Mapping[str, MarkValue] = {
    **{str(n): MarkValue(str(n)) for n in range(1, 6)},
    "зач": MarkValue.PASS,
    "зачет": MarkValue.PASS,
    "зачёт": MarkValue.PASS,
    "зачт": MarkValue.PASS,
    "незач": MarkValue.FAIL,
    "незачет": MarkValue.FAIL,
    "незачёт": MarkValue.FAIL,
    "осв": MarkValue.EXEMPT,
    "осв.": MarkValue.EXEMPT,
    "н/а": MarkValue.NOT_ATTESTED,
    "на": MarkValue.NOT_ATTESTED,
    "·": MarkValue.DOT,
    ".": MarkValue.DOT,
    "точка": MarkValue.DOT,
}
_SPLIT = re.compile(r"\s*/\s*")


def split_mark_text(text: str) -> list[MarkValue]:
    """Parse a mark cell as platforms print it: «5», «4/5» (two marks), «зачёт», «Н/А».

    «4/5» is two marks in one cell (a double mark); «Н/А» is one value, not two.
    """
    cleaned = text.strip().lower().replace("ё", "е") if text else ""
    if not cleaned:
        raise UnknownCode("empty mark value", field="value")
    whole = _MARK_WORDS.get(cleaned) or _MARK_WORDS.get(text.strip().lower())
    if whole is not None:
        return [whole]
    parts = _SPLIT.split(cleaned)
    values = [_MARK_WORDS.get(p) for p in parts]
    if len(parts) > 1 and all(v is not None for v in values):
        return [v for v in values if v is not None]
    raise UnknownCode(f"unknown mark value {text!r}", field="value")


class AttendanceCode(StrEnum):
    ABSENT = "absent"  # Н / НП — without a valid reason
    EXCUSED = "excused"  # У / УП — valid reason
    ILL = "ill"  # Б — illness
    LATE = "late"  # ОП — late
    RELEASED = "released"  # ОСВ — released from the lesson


ATTENDANCE_LABELS: Mapping[AttendanceCode, str] = {
    AttendanceCode.ABSENT: "Н",
    AttendanceCode.EXCUSED: "У",
    AttendanceCode.ILL: "Б",
    AttendanceCode.LATE: "ОП",
    AttendanceCode.RELEASED: "ОСВ",
}


class PeriodKind(StrEnum):
    QUARTER = "quarter"
    TRIMESTER = "trimester"
    HALF_YEAR = "half_year"
    SEMESTER = "semester"
    YEAR = "year"
    EXAM = "exam"
    FINAL = "final"
    MODULE = "module"


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    GUARDIAN = "guardian"


class MovementKind(StrEnum):
    ENROLLED = "enrolled"  # зачисление
    LEFT = "left"  # выбытие
    TRANSFERRED = "transferred"  # перевод
    GRADUATED = "graduated"  # выпуск
    REPEATED = "repeated"  # повторное обучение


@dataclass(frozen=True, slots=True)
class WorkType:
    code: str
    name: str
    default_weight: float
    written: bool  # a written work: its marks are due within 7 days (regulations)


WORK_TYPES: Mapping[str, WorkType] = {
    w.code: w
    for w in (
        WorkType("answer", "Ответ на уроке", 1.0, False),
        WorkType("classwork", "Работа на уроке", 1.0, False),
        WorkType("homework", "Домашнее задание", 1.0, False),
        WorkType("test", "Контрольная работа", 2.0, True),
        WorkType("independent", "Самостоятельная работа", 1.5, True),
        WorkType("lab", "Лабораторная работа", 1.5, True),
        WorkType("practical", "Практическая работа", 1.5, True),
        WorkType("dictation", "Диктант", 2.0, True),
        WorkType("quiz", "Тест", 1.5, True),
        WorkType("essay", "Сочинение", 2.0, True),
        WorkType("exposition", "Изложение", 2.0, True),
        WorkType("project", "Проект", 2.0, False),
        WorkType("report", "Доклад", 1.0, False),
        WorkType("credit", "Зачёт", 2.0, False),
        WorkType("diagnostic", "Диагностическая работа", 2.0, True),
        WorkType("check", "Проверочная работа", 1.5, True),
        # NetSchool type 2 (netschool.md §5.3): a written test on a finished topic; the
        # weight is a guess (the platform's own default weights are per installation).
        WorkType("thematic", "Тематическая работа", 1.5, True),
        WorkType("recitation", "Чтение наизусть", 1.0, False),
        WorkType("exam", "Экзамен", 3.0, True),
        WorkType("other", "Другое", 1.0, False),
    )
}


K = TypeVar("K")
V = TypeVar("V")


class CodeTable(Generic[K, V]):
    """A platform's code → canonical code table that reports what it cannot map.

    ``lookup`` raises :class:`UnknownCode` naming the field, so the caller quarantines the
    record; ``seen_unknown`` keeps every unmapped code met, for the run summary.
    """

    def __init__(self, name: str, field: str, table: Mapping[K, V]) -> None:
        self.name = name
        self.field = field
        self._table = dict(table)
        self.seen_unknown: set[K] = set()

    def lookup(self, code: K) -> V:
        try:
            return self._table[code]
        except (KeyError, TypeError):
            self.seen_unknown.add(code)
            raise UnknownCode(f"unknown {self.name} {code!r}", field=self.field) from None

    def reverse(self) -> dict[V, K]:
        """Canonical → platform code (the first platform code wins for shared targets)."""
        out: dict[V, K] = {}
        for k, v in self._table.items():
            out.setdefault(v, k)
        return out

    def __contains__(self, code: object) -> bool:
        return code in self._table
