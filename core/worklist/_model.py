"""The worklist: one teacher's entries to make by hand, grouped by lesson (and its JSON twin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from core.errors import ContractError

__all__ = ["FORMAT", "Block", "Entry", "EntryKind", "Worklist", "from_json", "to_json"]

#: The JSON twin's format tag; bump the number on an incompatible change.
FORMAT = "journalsync.worklist/1"

EntryKind = Literal["topic", "homework", "attendance", "mark", "final_mark"]
#: Order of entries within a lesson: the lesson's own fields first, then per student.
KIND_ORDER: Mapping[str, int] = {
    "topic": 0,
    "homework": 1,
    "attendance": 2,
    "mark": 3,
    "final_mark": 4,
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing to enter. ``value`` is the canonical value (mark code «5»/«pass», attendance code
    «absent», topic or homework text); ``label`` is how the teacher writes it («5», «Н», text)."""

    kind: EntryKind
    op: Literal["upsert", "delete"]
    entity: str
    record_id: str
    keys: tuple[str, ...]  # the outbox items this entry settles
    value: str
    label: str
    student: str | None = None  # full name «Фамилия Имя Отчество»
    student_id: str | None = None
    work_type: str | None = None
    work_type_name: str | None = None
    weight: float | None = None
    ordinal: int | None = None
    due_date: date | None = None
    minutes_late: int | None = None
    comment: str = ""
    current: str = ""  # what the platform shows now ("" = nothing)

    @property
    def what(self) -> str:
        """«Оценка», «Посещаемость» … — the column the teacher looks for on the platform."""
        base = {
            "topic": "Тема урока",
            "homework": "Домашнее задание",
            "attendance": "Посещаемость",
            "mark": "Оценка",
            "final_mark": "Итоговая отметка",
        }[self.kind]
        return f"Удалить: {base.lower()}" if self.op == "delete" else base


@dataclass(frozen=True, slots=True)
class Block:
    """The entries of one lesson (or, for final marks, one class × subject × period)."""

    class_name: str
    subject: str
    entries: tuple[Entry, ...]
    date: date | None = None
    number: int | None = None
    subgroup: int = 0
    period: str = ""
    lesson_id: str | None = None
    group_id: str | None = None

    @property
    def heading(self) -> str:
        parts: list[str] = []
        if self.date is not None:
            parts.append(f"{_WEEKDAYS[self.date.weekday()]}, {self.date:%d.%m.%Y}")
        if self.number is not None:
            parts.append(f"урок {self.number}")
        parts.append(self.class_name or "класс не найден")
        parts.append(self.subject or "предмет не найден")
        if self.subgroup:
            parts.append(f"подгруппа {self.subgroup}")
        if self.period:
            parts.append(f"итоговые отметки: {self.period}")
        return " · ".join(parts)


_WEEKDAYS = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")


@dataclass(frozen=True, slots=True)
class Worklist:
    """One teacher's worklist for one school on one platform."""

    school: str
    platform: str
    teacher_id: str | None
    teacher: str  # full name, or «Учитель не указан»
    generated_at: datetime
    blocks: tuple[Block, ...]
    school_name: str = ""
    unresolved: int = 0  # entries whose lesson/student could not be named from the snapshot
    notes: tuple[str, ...] = field(default=())
    #: The school's time zone (the config's): the document prints its times in it.
    timezone: str = "Europe/Moscow"

    @property
    def entry_count(self) -> int:
        return sum(len(b.entries) for b in self.blocks)

    @property
    def keys(self) -> list[str]:
        return [k for b in self.blocks for e in b.entries for k in e.keys]


def _entry_json(e: Entry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "op": e.op,
        "what": e.what,
        "student": e.student,
        "student_id": e.student_id,
        "value": e.value,
        "label": e.label,
        "work_type": e.work_type,
        "work_type_name": e.work_type_name,
        "weight": e.weight,
        "ordinal": e.ordinal,
        "due_date": e.due_date.isoformat() if e.due_date else None,
        "minutes_late": e.minutes_late,
        "comment": e.comment,
        "current": e.current,
        "entity": e.entity,
        "record_id": e.record_id,
        "keys": list(e.keys),
    }


def to_json(worklist: Worklist) -> dict[str, Any]:
    """The machine-readable twin of the printed worklist (JSON-ready primitives)."""
    return {
        "format": FORMAT,
        "school": worklist.school,
        "school_name": worklist.school_name,
        "platform": worklist.platform,
        "teacher_id": worklist.teacher_id,
        "teacher": worklist.teacher,
        "generated_at": worklist.generated_at.isoformat(),
        "entry_count": worklist.entry_count,
        "unresolved": worklist.unresolved,
        "blocks": [
            {
                "date": b.date.isoformat() if b.date else None,
                "number": b.number,
                "class": b.class_name,
                "subject": b.subject,
                "subgroup": b.subgroup,
                "period": b.period,
                "lesson_id": b.lesson_id,
                "group_id": b.group_id,
                "entries": [_entry_json(e) for e in b.entries],
            }
            for b in worklist.blocks
        ],
    }


def _opt_date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def from_json(data: Mapping[str, Any]) -> Worklist:
    """Read a worklist back from :func:`to_json` output; a wrong shape → ContractError."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ContractError(f"not a worklist: expected format {FORMAT!r}")
    try:
        blocks = tuple(
            Block(
                class_name=str(b["class"]),
                subject=str(b["subject"]),
                date=_opt_date(b.get("date")),
                number=b.get("number"),
                subgroup=int(b.get("subgroup") or 0),
                period=str(b.get("period") or ""),
                lesson_id=b.get("lesson_id"),
                group_id=b.get("group_id"),
                entries=tuple(_entry(e) for e in b["entries"]),
            )
            for b in data["blocks"]
        )
        return Worklist(
            school=str(data["school"]),
            school_name=str(data.get("school_name") or ""),
            platform=str(data["platform"]),
            teacher_id=data.get("teacher_id"),
            teacher=str(data["teacher"]),
            generated_at=datetime.fromisoformat(data["generated_at"]),
            unresolved=int(data.get("unresolved") or 0),
            blocks=blocks,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"malformed worklist JSON: {type(exc).__name__}: {exc}") from None


def _entry(e: Mapping[str, Any]) -> Entry:
    kind = e["kind"]
    op = e["op"]
    if kind not in KIND_ORDER or op not in ("upsert", "delete"):
        raise ValueError(f"unknown entry kind/op {kind!r}/{op!r}")
    weight = e.get("weight")
    return Entry(
        kind=kind,
        op=op,
        entity=str(e["entity"]),
        record_id=str(e["record_id"]),
        keys=tuple(str(k) for k in e.get("keys") or ()),
        value=str(e["value"]),
        label=str(e.get("label") or e["value"]),
        student=e.get("student"),
        student_id=e.get("student_id"),
        work_type=e.get("work_type"),
        work_type_name=e.get("work_type_name"),
        weight=float(weight) if weight is not None else None,
        ordinal=e.get("ordinal"),
        due_date=_opt_date(e.get("due_date")),
        minutes_late=e.get("minutes_late"),
        comment=str(e.get("comment") or ""),
        current=str(e.get("current") or ""),
    )


def sorted_entries(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    """Lesson fields first, then students by name (ё as е), then kind, work type, ordinal."""
    return tuple(
        sorted(
            entries,
            key=lambda e: (
                e.student is not None,
                name_key(e.student or ""),
                KIND_ORDER[e.kind],
                e.work_type or "",
                e.ordinal or 0,
            ),
        )
    )


def name_key(name: str) -> str:
    return name.lower().replace("ё", "е")
