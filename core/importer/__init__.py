"""Import a local journal (a paper journal kept during an outage, a migration) from CSV or XLSX.

One row per entry::

    kind,class,subject,subgroup,date,lesson,student,work_type,value,code,topic,text
    mark,7А,Алгебра,,2026-09-08,2,Иванов Иван Иванович,answer,5,,,
    attendance,7А,Алгебра,,08.09.2026,2,Петрова Анна Сергеевна,,,Н,,
    topic,7А,Алгебра,,2026-09-08,2,,,,,Квадратные уравнения,
    homework,7А,Алгебра,,2026-09-08,2,,,,,,№ 12–15

``kind`` is mark, attendance, topic or homework (or оценка, посещаемость, тема, дз); ``class``
«7А»; ``date`` ``YYYY-MM-DD`` or ``ДД.ММ.ГГГГ``; ``lesson`` the lesson number in the day;
``student`` the full name «Фамилия Имя Отчество» as on the platform; ``work_type`` a canonical
code (``answer``, ``test`` …) or its Russian name; ``value`` a mark as printed («5», «4/5»,
«зачёт», «н/а»); ``code`` an attendance code (Н, НП, ОТ, У, УП, Б, ОП, ОСВ). Names, classes,
subjects and work types match whatever their case and «ё»/«е». The file may be CSV (UTF-8 with
or without BOM, or a Cyrillic code page such as Windows-1251; ``,``, ``;`` or tab separated) or a
workbook (XLSX/XLS, the first sheet); see :mod:`core.importer._read`.

Rows are resolved against the school's remote snapshot (classes, subjects, groups, lessons,
enrollments, people); a pupil is looked up within the row's class and subgroup only. A row that
cannot be resolved is quarantined with its row number, the field and the reason — never the
personal data it holds. Rows of one file that give one record two different values (a mark 5
and a mark 4 for the same pupil, lesson and work type; absences Н and Б) are all quarantined as
a conflict and none of them is applied: which one the teacher meant is not the importer's guess.
Identical repeated rows are one record. Several homework rows of one lesson are separate
homework entries, ordinals 1, 2 … in file order (identical texts once).

The records, their change log and the quarantined rows are written in one transaction. The
quarantine rows are keyed by the file's SHA-256 and the row number, so importing the same file
again changes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from core.codes import WORK_TYPES, AttendanceCode, MarkValue, split_mark_text
from core.connector import Quarantined
from core.errors import Skippable
from core.importer._carry import OFFLINE_REASON, CarryOver, carry_over
from core.importer._read import (
    COLUMNS,
    ImportFileError,
    Table,
    TableKind,
    parse_date,
    parse_number,
    read_table,
)
from core.importer._roster import Roster, fold
from core.importer._template import template_bytes, template_input
from core.model import Attendance, Homework, Lesson, Mark, Record, record_id
from core.store import Store

__all__ = [
    "ATTENDANCE_WORDS",
    "COLUMNS",
    "OFFLINE_REASON",
    "CarryOver",
    "ImportFileError",
    "ImportResult",
    "Table",
    "TableKind",
    "carry_over",
    "import_csv",
    "import_file",
    "import_table",
    "read_table",
    "template_bytes",
    "template_input",
]

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
_WORK_BY_NAME = {fold(w.name): w.code for w in WORK_TYPES.values()}
_KINDS = {
    "mark": "mark",
    "оценка": "mark",
    "отметка": "mark",
    "attendance": "attendance",
    "посещаемость": "attendance",
    "пропуск": "attendance",
    "topic": "topic",
    "тема": "topic",
    "homework": "homework",
    "дз": "homework",
    "домашнее задание": "homework",
}
#: The field a conflict is about, by the kind of record.
_CONFLICT_FIELD = {"mark": "value", "attendance": "code", "topic": "topic"}

#: A record as a compact key: ("mark", student, lesson, work type, ordinal), ("attendance",
#: student, lesson), ("topic", lesson) or ("homework", lesson, text). Records are built from
#: these only when written, in batches: 200,000 pydantic records at once would take 0.5 GB.
_Key = tuple[Any, ...]


@dataclass(slots=True)
class ImportResult:
    #: Distinct records the file's good rows give (written, or already so in the store).
    records: int = 0
    quarantine: list[Quarantined] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Data rows read, rows quarantined as conflicts, quarantine rows added (0 on a re-import).
    rows: int = 0
    conflicts: int = 0
    quarantine_added: int = 0
    #: How the file was read: encoding, separator, columns.
    form: str = ""


@dataclass(slots=True)
class _Plan:
    """What the rows say, before anything is written. Kept small: one entry per record, a row
    list only for a record that more than one row gives."""

    content: dict[_Key, Hashable] = field(default_factory=dict)
    first_row: dict[_Key, int] = field(default_factory=dict)
    more_rows: dict[_Key, list[int]] = field(default_factory=dict)
    conflicted: dict[_Key, None] = field(default_factory=dict)
    bad: list[Quarantined] = field(default_factory=list)

    def add(self, n: int, entries: list[tuple[_Key, Hashable]]) -> None:
        for key, value in entries:
            if key not in self.first_row:
                self.content[key] = value
                self.first_row[key] = n
                continue
            self.more_rows.setdefault(key, []).append(n)
            if self.content[key] != value:
                self.conflicted[key] = None

    def rows(self, key: _Key) -> list[int]:
        return [self.first_row[key], *self.more_rows.get(key, ())]


def import_file(
    store: Store, school: str, platform: str, source: Path | str, *, actor: str
) -> ImportResult:
    """Import a journal file (or CSV text): the good rows' records and the quarantined rows
    commit together. :class:`ImportFileError` (nothing written) if it is not a journal file.

    A directory or a ``.zip`` is read as a OneRoster 1.2 CSV set (:mod:`core.importer._oneroster`),
    an offline-journal workbook made by ``journalsync template`` by its layout
    (:mod:`core.importer._template`); either becomes rows of the columns above and takes the
    same path from there."""
    if isinstance(source, Path):
        from core.importer._oneroster import is_oneroster, oneroster_table
        from core.importer._template import is_template, template_table

        if is_oneroster(source):
            return import_table(store, school, platform, oneroster_table(source), actor=actor)
        if is_template(source):
            table = template_table(source)
            return import_table(
                store, school, platform, table, actor=actor, reason=f"{OFFLINE_REASON} {table.name}"
            )
    table = read_table(source, source.name if isinstance(source, Path) else "csv text")
    return import_table(store, school, platform, table, actor=actor)


def import_table(
    store: Store, school: str, platform: str, table: Table, *, actor: str, reason: str = ""
) -> ImportResult:
    """Resolve a table's rows against the school's snapshot and write them (one transaction).

    Besides the columns, a row may carry hints from a structured source (cells that no CSV can
    hold, their names starting with NUL): ``\0group`` a group id and ``\0student`` a pupil id
    (used when the snapshot knows them), ``\0ordinal``, ``\0weight``, ``\0comment`` and
    ``\0teacher`` of a mark (a teacher the snapshot does not know is dropped), ``\0cell`` the
    cell to name in a quarantine reason, and ``\0skip`` (with ``\0skip_field``) a reason to
    quarantine the row. A structured row without a lesson number takes the group's only lesson
    that day."""
    roster = Roster(store, school, platform)
    plan = _Plan()
    result = ImportResult(form=table.form)
    lessons: dict[tuple[str, ...], Lesson | Skippable] = {}
    for n, row in table.rows:
        result.rows += 1
        if "\0extra" not in row and not any(
            v.strip() for k, v in row.items() if not k.startswith("\0")
        ):
            continue  # an empty line: Excel leaves them
        try:
            plan.add(n, _entries(row, roster, lessons))
        except Skippable as exc:
            plan.bad.append(
                _quarantined(
                    n, row.get("kind", ""), exc.field, exc.message, table.name, row.get("\0cell")
                )
            )
    keys = _settle(plan, result, table.name)
    result.quarantine = sorted(plan.bad, key=lambda q: int(q.record.removeprefix("row ")))
    result.records = len(keys)
    name = table.name
    counts, result.quarantine_added = store.import_local(
        school,
        _records(school, _in_id_order(keys), plan.content, roster),
        result.quarantine,
        stream=f"import:{table.digest[:32]}",
        actor=actor,
        reason=reason or f"import {name}",
    )
    result.inserted, result.updated, result.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    return result


#: The name the first releases used; it reads XLSX too.
import_csv = import_file


def _quarantined(
    n: int, kind: str, where: str | None, message: str, file: str, cell: str | None = None
) -> Quarantined:
    place = f"cell {cell}" if cell else f"row {n}"
    return Quarantined(
        entity=_KINDS.get(fold(kind), "row"),
        record=f"row {n}",
        field=where or "",
        reason=f"{place}, field {where or '?'}: {message}",
        payload={"file": file},  # the file's name, not the row: rows hold personal data
    )


def _settle(plan: _Plan, result: ImportResult, file: str) -> list[_Key]:
    """Quarantine every row of a conflicting record; the records of the other rows (a row in a
    conflict gives none of its records, e.g. the second mark of its «4/5»), in file order."""
    conflicting: dict[int, str] = {}
    for key in plan.conflicted:
        rows = plan.rows(key)
        for n in rows:
            if n not in conflicting:
                others = ", ".join(str(m) for m in rows if m != n)
                conflicting[n] = (
                    f"conflicts with row {others}: another {_CONFLICT_FIELD[key[0]]} for the "
                    "same record; neither row was applied"
                )
                plan.bad.append(
                    _quarantined(n, key[0], _CONFLICT_FIELD[key[0]], conflicting[n], file)
                )
    result.conflicts = len(conflicting)
    if not conflicting:
        return list(plan.content)
    return [
        key
        for key in plan.content
        if plan.first_row[key] not in conflicting
        or any(n not in conflicting for n in plan.more_rows.get(key, ()))
    ]


def _in_id_order(keys: list[_Key]) -> list[tuple[str, _Key]]:
    """The records' ids with their keys, sorted by id; homework gets its ordinal here (file
    order within the lesson). Written in id order, the inserts into the id-keyed indexes stay
    on the pages they just touched: the write of the 200,000-row benchmark import took 8.5 and
    8.2 CPU-s against 12.3 and 11.4 in shuffled order (SQLite, two runs each)."""
    out: list[tuple[str, _Key]] = []
    homework: dict[str, int] = {}
    for key in keys:
        kind = key[0]
        if kind == "homework":
            lesson_id = str(key[1])
            n = homework[lesson_id] = homework.get(lesson_id, 0) + 1
            key = ("homework", lesson_id, n, key[2])
            out.append((record_id("homework", lesson_id, n), key))
        elif kind == "topic":
            out.append((str(key[1]), key))
        else:
            out.append((record_id(kind, *key[1:]), key))
    out.sort()
    return out


def _records(
    school: str,
    keys: list[tuple[str, _Key]],
    content: dict[_Key, Hashable],
    roster: Roster,
) -> Iterator[Record]:
    for _, key in keys:
        kind = key[0]
        if kind == "mark":
            _, student_id, lesson_id, work_type, ordinal = key
            value, weight, comment, teacher = cast(
                tuple[MarkValue, float, str, str | None], content[key]
            )
            yield Mark(
                school=school,
                student_id=str(student_id),
                lesson_id=str(lesson_id),
                work_type=str(work_type),
                ordinal=int(ordinal),
                value=value,
                weight=weight,
                comment=comment,
                teacher_id=teacher,
            )
        elif kind == "attendance":
            code = content[key]
            assert isinstance(code, AttendanceCode)
            yield Attendance(
                school=school, student_id=str(key[1]), lesson_id=str(key[2]), code=code
            )
        elif kind == "topic":
            lesson = roster.lesson_by_id[key[1]]
            yield lesson.model_copy(update={"topic": content[key], "provenance": None})
        else:
            _, lesson_id, ordinal, text = key
            yield Homework(
                school=school, lesson_id=str(lesson_id), ordinal=int(ordinal), text=str(text)
            )


def _cell(row: Mapping[str, str], name: str) -> str:
    return row.get(name, "").strip()


def _lesson(
    row: Mapping[str, str], roster: Roster, cache: dict[tuple[str, ...], Lesson | Skippable]
) -> Lesson:
    get = row.get
    where: tuple[str, ...] = (
        get("class", ""),
        get("subject", ""),
        get("subgroup", ""),
        get("date", ""),
        get("lesson", ""),
        get("\0group", ""),
    )
    found = cache.get(where)
    if found is None:
        cls, subject, subgroup, day_text, number, group_id = (x.strip() for x in where)
        try:
            try:
                day = parse_date(day_text)
            except ValueError:
                raise Skippable("date must be YYYY-MM-DD or ДД.ММ.ГГГГ", field="date") from None
            if group_id and group_id in roster.group_by_id:
                found = roster.lesson_of_group(group_id, day, number)
            elif group_id and not number:  # a structured source with dates only
                found = roster.lesson(cls, subject, subgroup, day, None)
            else:
                try:
                    lesson_number = parse_number(number)
                except ValueError:
                    raise Skippable("lesson number must be a number", field="lesson") from None
                found = roster.lesson(cls, subject, subgroup, day, lesson_number)
        except Skippable as exc:
            found = exc
        cache[where] = found
    if isinstance(found, Skippable):
        raise found
    return found


def _entries(
    row: Mapping[str, str], roster: Roster, cache: dict[tuple[str, ...], Lesson | Skippable]
) -> list[tuple[_Key, Hashable]]:
    if "\0extra" in row:
        raise Skippable(row["\0extra"], field="row")
    if "\0skip" in row:
        raise Skippable(row["\0skip"], field=row.get("\0skip_field", "row"))
    kind = _KINDS.get(fold(_cell(row, "kind")))
    if kind is None:
        raise Skippable("kind must be one of mark, attendance, topic, homework", field="kind")
    lesson = _lesson(row, roster, cache)
    if kind == "topic":
        topic = _cell(row, "topic")
        if not topic:
            raise Skippable("topic is empty", field="topic")
        return [(("topic", lesson.id), topic)]
    if kind == "homework":
        text = _cell(row, "text")
        if not text:
            raise Skippable("homework text is empty", field="text")
        return [(("homework", lesson.id, text), None)]
    student_id = roster.pupil(lesson, _cell(row, "student"), row.get("\0student", ""))
    if kind == "attendance":
        code = ATTENDANCE_WORDS.get(fold(_cell(row, "code")))
        if code is None:
            raise Skippable("unknown attendance code", field="code")
        return [(("attendance", student_id, lesson.id), code)]
    text = _cell(row, "work_type") or "answer"
    work_type = text if text in WORK_TYPES else _WORK_BY_NAME.get(fold(text))
    if work_type is None:
        raise Skippable("unknown work type", field="work_type")
    values: list[MarkValue] = split_mark_text(_cell(row, "value"))
    weight = WORK_TYPES[work_type].default_weight
    first, comment, teacher = 1, "", None
    if "\0ordinal" in row:  # a structured source names each mark's ordinal, weight, teacher
        first = int(row["\0ordinal"])
        if row.get("\0weight"):
            weight = float(row["\0weight"])
        comment = row.get("\0comment", "")
        teacher = row.get("\0teacher") or None
        if teacher is not None and teacher not in roster.teachers:
            teacher = None  # not a teacher the platform knows: the mark keeps none
    return [
        (("mark", student_id, lesson.id, work_type, n), (v, weight, comment, teacher))
        for n, v in enumerate(values, start=first)
    ]
