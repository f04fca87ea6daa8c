"""Drift findings as people read them: the pupil, class, subject, lesson date and number, and
what differs in words — ids resolved through the school's local records and the snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, select

from core.codes import ATTENDANCE_LABELS, MARK_LABELS, AttendanceCode, MarkValue
from core.store._schema import local_records, remote_records
from core.store._types import Finding

__all__ = ["ENTITY_TEXT", "KIND_TEXT", "Change", "DriftRow", "describe"]

_BATCH = 500

#: What a finding's kind means, for the school.
KIND_TEXT = {
    "mismatch": "различается",
    "missing_on_platform": "нет на платформе",
    "extra_on_platform": "есть только на платформе",
}

ENTITY_TEXT = {
    "mark": "отметка",
    "attendance": "посещаемость",
    "lesson": "урок",
    "homework": "домашнее задание",
    "final_mark": "итоговая отметка",
    "person": "человек",
    "class_unit": "класс",
    "subject": "предмет",
    "group": "группа",
    "enrollment": "зачисление",
    "period": "период",
    "academic_year": "учебный год",
    "school": "школа",
}

_FIELD_TEXT = {
    "value": "значение",
    "code": "отметка посещаемости",
    "topic": "тема урока",
    "text": "текст задания",
    "work_type": "вид работы",
    "weight": "вес",
    "comment": "комментарий",
    "date": "дата",
    "number": "номер урока",
    "minutes_late": "опоздание, мин",
    "note": "примечание",
    "due_date": "срок сдачи",
    "teacher_id": "учитель",
    "substitute_teacher_id": "замена",
    "student_id": "ученик",
    "lesson_id": "урок",
    "subject_id": "предмет",
    "period_id": "период",
    "ordinal": "порядковый номер",
    "last_name": "фамилия",
    "first_name": "имя",
    "middle_name": "отчество",
    "name": "название",
    "start_time": "начало",
    "end_time": "окончание",
    "shift": "смена",
    "kind": "вид",
    "attachments": "вложения",
}


#: The fields that say what a record is, shown for a record missing on one side.
_CONTENT = frozenset({"value", "code", "topic", "text", "minutes_late", "name", "last_name"})


@dataclass(frozen=True, slots=True)
class Change:
    field: str  # in words («значение», «тема урока»)
    local: str  # in the school's journal (journalsync), in words
    platform: str  # on the platform, in words


@dataclass(frozen=True, slots=True)
class DriftRow:
    """One finding in words; empty strings where the record does not have the thing."""

    id: str
    status: str
    kind: str  # the code: mismatch, missing_on_platform, extra_on_platform
    what: str  # «отметка», «урок» …
    student: str
    class_name: str
    subject: str
    day: date | None
    lesson_number: int | None
    period: str
    changes: tuple[Change, ...]
    record_id: str

    @property
    def kind_text(self) -> str:
        return KIND_TEXT.get(self.kind, self.kind)

    def summary(self) -> str:
        """«значение: 4 → 5; тема урока: «Дроби» → пусто», or what the kind means."""
        if self.kind == "missing_on_platform":
            return "; ".join([self.kind_text, *(f"{c.field} {c.local}" for c in self.changes)])
        if self.kind == "extra_on_platform":
            return "; ".join([self.kind_text, *(f"{c.field} {c.platform}" for c in self.changes)])
        return "; ".join(f"{c.field}: {c.local} → {c.platform}" for c in self.changes)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "kind": self.kind,
            "what": self.what,
            "student": self.student,
            "class": self.class_name,
            "subject": self.subject,
            "date": self.day.isoformat() if self.day else None,
            "lesson_number": self.lesson_number,
            "period": self.period,
            "changes": [
                {"field": c.field, "local": c.local, "platform": c.platform} for c in self.changes
            ],
            "record_id": self.record_id,
        }


class _Records:
    """Records by id: the school's local ones first, else the platform's snapshot."""

    def __init__(self, conn: Connection, school: str, platform: str) -> None:
        self._conn, self._school, self._platform = conn, school, platform
        self._data: dict[str, dict[str, Any] | None] = {}
        self._classes: dict[str, str] | None = None

    def load(self, ids: Iterable[str]) -> None:
        want = sorted({i for i in ids if i and i not in self._data})
        for start in range(0, len(want), _BATCH):
            chunk = want[start : start + _BATCH]
            lr, rr = local_records.c, remote_records.c
            found: dict[str, str] = {
                rid: data
                for rid, data in self._conn.execute(
                    select(rr.id, rr.data).where(
                        rr.school == self._school, rr.platform == self._platform, rr.id.in_(chunk)
                    )
                )
            }
            found.update(
                {
                    rid: data
                    for rid, data in self._conn.execute(
                        select(lr.id, lr.data).where(lr.school == self._school, lr.id.in_(chunk))
                    )
                }
            )
            for rid in chunk:
                raw = found.get(rid)
                self._data[rid] = orjson.loads(raw) if raw is not None else None

    def class_of(self, student_id: Any) -> str:
        """A student's class id through the enrollments (read once, on the first need)."""
        if self._classes is None:
            self._classes = {}
            for table in (remote_records, local_records):  # local last: it wins
                stmt = select(table.c.data).where(
                    table.c.school == self._school, table.c.entity == "enrollment"
                )
                if table is remote_records:
                    stmt = stmt.where(remote_records.c.platform == self._platform)
                for (raw,) in self._conn.execute(stmt):
                    e = orjson.loads(raw)
                    if not e.get("end"):
                        self._classes[str(e.get("student_id"))] = str(e.get("class_id"))
            self.load(self._classes.values())
        return self._classes.get(student_id, "") if isinstance(student_id, str) else ""

    def get(self, rid: Any) -> dict[str, Any]:
        return (self._data.get(rid) or {}) if isinstance(rid, str) else {}

    def refs(self, rows: Iterable[Mapping[str, Any]], *keys: str) -> list[str]:
        return [r[k] for r in rows for k in keys if isinstance(r.get(k), str)]


def _person(data: Mapping[str, Any]) -> str:
    last = str(data.get("last_name") or "")
    initials = "".join(
        f" {str(n)[0]}." for n in (data.get("first_name"), data.get("middle_name")) if n
    )
    return f"{last}{initials}" if last else ""


def _class(data: Mapping[str, Any]) -> str:
    return f"{data['grade']}{data['letter']}" if "grade" in data and "letter" in data else ""


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def describe(
    conn: Connection, school: str, platform: str, findings: Sequence[Finding]
) -> list[DriftRow]:
    """``findings`` in words, ids resolved in a few batched look-ups (not one per finding)."""
    recs = _Records(conn, school, platform)
    recs.load(f.record_id for f in findings)
    own = [recs.get(f.record_id) for f in findings]
    # ids in a changed field (a teacher, a lesson) are named too
    changed = [v for f in findings for d in f.fields for v in (d.local, d.remote)]
    recs.load(
        recs.refs(own, "lesson_id", "student_id", "subject_id", "period_id", "group_id")
        + [v for v in changed if isinstance(v, str)]
    )
    lessons = [recs.get(r.get("lesson_id")) for r in own] + own
    recs.load(recs.refs(lessons, "group_id"))
    groups = [recs.get(le.get("group_id")) for le in lessons]
    recs.load(recs.refs(groups, "class_id", "subject_id") + recs.refs(own, "class_id"))
    out = []
    for f, data in zip(findings, own, strict=True):
        lesson = data if f.entity == "lesson" else recs.get(data.get("lesson_id"))
        group = data if f.entity == "group" else recs.get(lesson.get("group_id"))
        subject_id = data.get("subject_id") or group.get("subject_id")
        class_id = data.get("class_id") or group.get("class_id")
        if not class_id and f.entity == "final_mark":
            class_id = recs.class_of(data.get("student_id"))
        student = recs.get(data.get("student_id")) if f.entity != "person" else data
        out.append(
            DriftRow(
                id=f.id,
                status=f.status,
                kind=f.kind,
                what=ENTITY_TEXT.get(f.entity, f.entity),
                student=_person(student),
                class_name=_class(recs.get(class_id)) if class_id else _class(data),
                subject=str(recs.get(subject_id).get("name") or ""),
                day=_day(lesson.get("date")),
                lesson_number=lesson.get("number")
                if isinstance(lesson.get("number"), int)
                else None,
                period=str(recs.get(data.get("period_id")).get("name") or ""),
                changes=tuple(
                    Change(
                        _FIELD_TEXT.get(d.field, d.field),
                        _value(f.entity, d.field, d.local, recs),
                        _value(f.entity, d.field, d.remote, recs),
                    )
                    for d in f.fields
                    # a whole record missing on one side: only what it says, not every id
                    if f.kind == "mismatch" or d.field in _CONTENT
                ),
                record_id=f.record_id,
            )
        )
    return out


def _value(entity: str, field: str, value: Any, recs: _Records) -> str:
    if value is None:
        return "нет"
    if value == "" or value == [] or value == ():
        return "пусто"
    if field == "value" and entity in ("mark", "final_mark"):
        try:
            return MARK_LABELS[MarkValue(value)]
        except ValueError:
            return str(value)
    if field == "code" and entity == "attendance":
        try:
            return ATTENDANCE_LABELS[AttendanceCode(value)]
        except ValueError:
            return str(value)
    if isinstance(value, str) and field.endswith("_id"):
        data = recs.get(value)
        named = _person(data) or _class(data) or str(data.get("name") or "")
        if named:
            return named
        if field == "lesson_id" and data.get("date"):
            return f"урок {data.get('number')} от {_day(data['date']):%d.%m.%Y}"
    if isinstance(value, str) and (d := _day(value)) is not None and len(value) == 10:
        return f"{d:%d.%m.%Y}"
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return str(value)
