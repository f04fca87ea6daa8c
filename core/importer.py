"""Import local journal records from CSV (a paper journal kept during an outage, a migration).

One row per entry::

    kind,class,subject,subgroup,date,lesson,student,work_type,value,code,topic,text
    mark,7А,Алгебра,,2026-09-08,2,Иванов Иван Иванович,answer,5,,,
    attendance,7А,Алгебра,,2026-09-08,2,Петрова Анна Сергеевна,,,Н,,
    topic,7А,Алгебра,,2026-09-08,2,,,,,Квадратные уравнения,
    homework,7А,Алгебра,,2026-09-08,2,,,,,,№ 12–15

``kind`` is mark, attendance, topic or homework; ``class`` «7А»; ``lesson`` the lesson number in
the day; ``student`` the full name «Фамилия Имя Отчество» as on the platform; ``work_type`` a
canonical code (``answer``, ``test`` …) or its Russian name; ``value`` a mark as printed («5»,
«4/5», «зачёт», «н/а»); ``code`` an attendance code (Н, НП, ОТ, У, УП, Б, ОП, ОСВ).

Rows are resolved against the school's remote snapshot (classes, subjects, groups, lessons,
people). A row that cannot be resolved is quarantined with its row number, the field and the
reason — never the personal data it holds — and the good rows are committed together.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from core.codes import WORK_TYPES, AttendanceCode, split_mark_text
from core.connector import Quarantined
from core.errors import Skippable
from core.model import (
    Attendance,
    ClassUnit,
    Group,
    Homework,
    Lesson,
    Mark,
    Person,
    Record,
    Subject,
    normalise_class_name,
    normalise_subject_name,
)
from core.store import Store

__all__ = ["ATTENDANCE_WORDS", "ImportResult", "import_csv", "parse_rows"]

ATTENDANCE_WORDS: Mapping[str, AttendanceCode] = {
    "н": AttendanceCode.ABSENT,
    "нп": AttendanceCode.ABSENT,
    "от": AttendanceCode.ABSENT,
    "у": AttendanceCode.EXCUSED,
    "уп": AttendanceCode.EXCUSED,
    "б": AttendanceCode.ILL,
    "оп": AttendanceCode.LATE,
    "осв": AttendanceCode.RELEASED,
    **{c.value: c for c in AttendanceCode},
}
_WORK_BY_NAME = {w.name.lower(): w.code for w in WORK_TYPES.values()}
_KINDS = ("mark", "attendance", "topic", "homework")


@dataclass(slots=True)
class ImportResult:
    records: list[Record] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class _Roster:
    """Look-ups from printed names to canonical ids, built from the remote snapshot."""

    def __init__(self, store: Store, school: str, platform: str) -> None:
        def live(entity: str) -> list[Record]:
            return list(store.remote_records(school, platform, entity))

        self.classes = {c.name: c.id for c in live("class_unit") if isinstance(c, ClassUnit)}
        self.subjects = {s.name: s.id for s in live("subject") if isinstance(s, Subject)}
        self.groups = {
            (g.class_id, g.subject_id, g.subgroup): g.id
            for g in live("group")
            if isinstance(g, Group)
        }
        self.lessons = {
            (le.group_id, le.date, le.number): le for le in live("lesson") if isinstance(le, Lesson)
        }
        self.students: dict[str, list[str]] = defaultdict(list)
        for p in live("person"):
            if isinstance(p, Person) and "student" in p.roles:
                full = " ".join(x for x in (p.last_name, p.first_name, p.middle_name) if x)
                self.students[full.lower()].append(p.id)


def _cell(row: Mapping[str, str | None], name: str) -> str:
    return (row.get(name) or "").strip()


def _resolve_lesson(row: Mapping[str, str | None], roster: _Roster) -> Lesson:
    try:
        grade, letter = normalise_class_name(_cell(row, "class"))
    except ValueError:
        raise Skippable("not a class name", field="class") from None
    class_id = roster.classes.get(f"{grade}{letter}")
    if class_id is None:
        raise Skippable("no such class on the platform", field="class")
    subject_id = roster.subjects.get(normalise_subject_name(_cell(row, "subject")))
    if subject_id is None:
        raise Skippable("no such subject on the platform", field="subject")
    subgroup_text = _cell(row, "subgroup") or "0"
    if not subgroup_text.isdigit():
        raise Skippable("subgroup must be a number", field="subgroup")
    group_id = roster.groups.get((class_id, subject_id, int(subgroup_text)))
    if group_id is None:
        raise Skippable("no such class/subject/subgroup group", field="subgroup")
    try:
        day = date.fromisoformat(_cell(row, "date"))
    except ValueError:
        raise Skippable("date must be YYYY-MM-DD", field="date") from None
    number_text = _cell(row, "lesson")
    if not number_text.isdigit():
        raise Skippable("lesson number must be a number", field="lesson")
    lesson = roster.lessons.get((group_id, day, int(number_text)))
    if lesson is None:
        raise Skippable("no such lesson in the timetable", field="lesson")
    return lesson


def _resolve_student(row: Mapping[str, str | None], roster: _Roster) -> str:
    name = " ".join(_cell(row, "student").split()).lower()
    if not name:
        raise Skippable("student is empty", field="student")
    found = roster.students.get(name, [])
    if len(found) != 1:
        why = "no student of that name" if not found else "more than one student of that name"
        raise Skippable(why, field="student")
    return found[0]


def _work_type(row: Mapping[str, str | None]) -> str:
    text = _cell(row, "work_type") or "answer"
    code = text if text in WORK_TYPES else _WORK_BY_NAME.get(text.lower())
    if code is None:
        raise Skippable("unknown work type", field="work_type")
    return code


def _row_records(school: str, row: Mapping[str, str | None], roster: _Roster) -> list[Record]:
    kind = _cell(row, "kind").lower()
    if kind not in _KINDS:
        raise Skippable(f"kind must be one of {', '.join(_KINDS)}", field="kind")
    lesson = _resolve_lesson(row, roster)
    if kind == "topic":
        topic = _cell(row, "topic")
        if not topic:
            raise Skippable("topic is empty", field="topic")
        return [lesson.model_copy(update={"topic": topic, "provenance": None})]
    if kind == "homework":
        text = _cell(row, "text")
        if not text:
            raise Skippable("homework text is empty", field="text")
        return [Homework(school=school, lesson_id=lesson.id, text=text)]
    student_id = _resolve_student(row, roster)
    if kind == "attendance":
        code = ATTENDANCE_WORDS.get(_cell(row, "code").lower())
        if code is None:
            raise Skippable("unknown attendance code", field="code")
        return [Attendance(school=school, student_id=student_id, lesson_id=lesson.id, code=code)]
    work_type = _work_type(row)
    values = split_mark_text(_cell(row, "value"))
    weight = WORK_TYPES[work_type].default_weight
    return [
        Mark(
            school=school,
            student_id=student_id,
            lesson_id=lesson.id,
            work_type=work_type,
            ordinal=n,
            value=v,
            weight=weight,
        )
        for n, v in enumerate(values, start=1)
    ]


def parse_rows(
    store: Store, school: str, platform: str, rows: Iterable[Mapping[str, str | None]]
) -> ImportResult:
    """Resolve rows to canonical records; unresolvable rows go to ``quarantine``."""
    roster = _Roster(store, school, platform)
    result = ImportResult()
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            result.records.extend(_row_records(school, row, roster))
        except Skippable as exc:
            result.quarantine.append(
                Quarantined(
                    entity=_cell(row, "kind") or "row",
                    record=f"row {n}",
                    field=exc.field,
                    reason=f"row {n}, field {exc.field or '?'}: {exc.message}",
                )
            )
    return result


def import_csv(
    store: Store,
    school: str,
    platform: str,
    source: Path | str,
    *,
    actor: str,
) -> ImportResult:
    """Import a CSV file (or CSV text) of local records; commits the good rows together."""
    text = source.read_text(encoding="utf-8-sig") if isinstance(source, Path) else source
    rows = list(csv.DictReader(io.StringIO(text)))
    result = parse_rows(store, school, platform, rows)
    name = source.name if isinstance(source, Path) else "csv"
    store.add_quarantine(school, "local", result.quarantine, stream=f"import:{name}")
    if result.records:
        counts = store.upsert_local(school, result.records, actor=actor, reason=f"import {name}")
        result.inserted, result.updated, result.unchanged = (
            counts.inserted,
            counts.updated,
            counts.unchanged,
        )
    return result
