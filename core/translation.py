"""What a platform cannot hold of the canonical journal, and why (issue 15, a migration's
*explained differences*).

Each platform ships a :class:`MigrationTable` in its capabilities (``connectors/<name>``): for a
canonical field, the value the platform will actually hold after a write (ЭПОС keeps whole-number
weights: 1.5 → 2; ЭПОС has no absence reasons: «Б» → «Н»), or that it cannot hold such a record at
all (NetSchool's journal takes 1–5 and «точка» only); and, per entity its channels cannot write,
why. Every entry carries a :class:`Reason` — a stable code, the Russian text documents print and
where the platform note or the connector's mapping says so.

The conversions are small named strategies (:func:`whole_number`, :func:`value_map`,
:func:`type_default_weight`, :func:`only_values`), so a table stays data. Fields a platform does
not carry at all (``Capabilities.fields_not_carried``) are explained generically by the migration
plan; a table names only what a write changes or refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.codes import WORK_TYPES
from core.model import Record

__all__ = [
    "DROP",
    "FIELD_TITLES",
    "Explained",
    "FieldRule",
    "MigrationTable",
    "Reason",
    "only_values",
    "type_default_weight",
    "value_map",
    "whole_number",
]


class _Drop:
    """The target cannot hold a record with this value (returned by a conversion)."""

    def __repr__(self) -> str:
        return "DROP"


#: Returned by a conversion: the record cannot be held by the target at all.
DROP: Any = _Drop()

#: Canonical field names as documents print them.
FIELD_TITLES: Mapping[str, str] = {
    "weight": "вес",
    "comment": "комментарий",
    "teacher_id": "учитель",
    "teacher_ids": "учителя",
    "minutes_late": "минуты опоздания",
    "note": "примечание",
    "code": "причина отсутствия",
    "birth_date": "дата рождения",
    "first_name": "имя",
    "middle_name": "отчество",
    "attachments": "вложения",
    "student_ids": "ученики",
    "member_ids": "состав группы",
    "due_date": "срок сдачи",
    "kind": "вид урока",
    "shift": "смена",
    "substitute_teacher_id": "замещающий учитель",
    "start_time": "начало урока",
    "end_time": "конец урока",
    "topic": "тема урока",
    "text": "текст задания",
    "value": "отметка",
    "name": "название",
    "region": "регион",
    "inn": "ИНН",
    "ogrn": "ОГРН",
    "start": "начало",
    "end": "окончание",
    "begin": "дата зачисления",
    "movement": "движение",
}


@dataclass(frozen=True, slots=True)
class Reason:
    #: Stable code (certificate keys): ``weight_whole``, ``attendance_reason`` …
    code: str
    #: What a document for the school prints (Russian).
    text: str
    #: Where this is evidenced: the platform note's section and the connector's mapping code.
    source: str


@dataclass(frozen=True, slots=True)
class Explained:
    """One value a target cannot hold as the source has it."""

    entity: str
    record_id: str
    field: str
    source: Any
    target: Any  # DROP: the record is not carried
    reason: Reason


@dataclass(frozen=True, slots=True)
class FieldRule:
    """``entity.field`` as the target holds it: ``convert(value, record)`` gives the value the
    target keeps after a write (the same value when it keeps it), or :data:`DROP`."""

    entity: str
    field: str
    reason: Reason
    convert: Callable[[Any, Record], Any]


@dataclass(frozen=True, slots=True)
class MigrationTable:
    rules: tuple[FieldRule, ...] = ()
    #: Per entity the target's channels cannot write: why (its own words and evidence).
    not_writable: Mapping[str, Reason] = field(default_factory=dict)
    #: Set where the platform numbers a pupil's marks of one work type on one lesson 1, 2 …
    #: (rather than by the lesson's assignment slot): a mark's ordinal is renumbered so.
    per_pupil_ordinals: Reason | None = None

    def fields(self, entity: str) -> frozenset[str]:
        return frozenset(r.field for r in self.rules if r.entity == entity)

    def translate(self, record: Record) -> tuple[Record | None, list[Explained]]:
        """The record as the target will hold it (``None``: not at all) and what changed why."""
        changes: dict[str, Any] = {}
        explained: list[Explained] = []
        values = record.__dict__
        for rule in self.rules:
            if rule.entity != record.ENTITY:
                continue
            before = values[rule.field]
            after = rule.convert(before, record)
            if after is DROP:
                return None, [
                    Explained(record.ENTITY, record.id, rule.field, before, DROP, rule.reason)
                ]
            if after != before:
                changes[rule.field] = after
                explained.append(
                    Explained(record.ENTITY, record.id, rule.field, before, after, rule.reason)
                )
        if not changes:
            return record, explained
        return record.model_copy(update=changes), explained


def whole_number() -> Callable[[Any, Record], Any]:
    """A number rounded half up (1.5 → 2), as a float like the canonical field."""

    def convert(value: Any, _record: Record) -> Any:
        return float(int(float(value) + 0.5))

    return convert


def value_map(table: Mapping[Any, Any]) -> Callable[[Any, Record], Any]:
    """Values in ``table`` become its value (:data:`DROP` allowed); others are kept."""
    frozen = dict(table)

    def convert(value: Any, _record: Record) -> Any:
        return frozen.get(value, value)

    return convert


def only_values(allowed: Collection[Any]) -> Callable[[Any, Record], Any]:
    """Values outside ``allowed`` cannot be held: the record is dropped."""
    keep = frozenset(allowed)

    def convert(value: Any, _record: Record) -> Any:
        return value if value in keep else DROP

    return convert


def type_default_weight() -> Callable[[Any, Record], Any]:
    """The weight the target gives a new mark: its work type's default (canonical list)."""

    def convert(value: Any, record: Record) -> Any:
        work = WORK_TYPES.get(str(getattr(record, "work_type", "")))
        return work.default_weight if work is not None else value

    return convert
