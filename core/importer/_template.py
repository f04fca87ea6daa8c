"""The offline (temporary) journal: a workbook to fill while the platform is down, and reading
it back as importer rows.

Regulation 002 §13.1 asks a school without access to the e-journal to keep "временные журналы,
содержащие … список класса, даты проведения уроков, успеваемость и посещаемость учащихся", and
§13.2 to carry them over "в течение 2 рабочих дней" once access is back. :func:`template_bytes`
writes that journal for one class and a range of dates from the school's snapshot (class list,
lessons with their dates, numbers and subjects — the timetable as last pulled):

* sheet «Журнал»: a header block (class, dates), then a column pair per lesson — «Отметка» and
  «Посещ.» — under rows «Дата», «Урок», «Предмет» and «Вид работы» (one work type per lesson,
  chosen from a list), a row per pupil. A pupil outside a subgroup lesson's subgroup gets a grey,
  locked cell pair. Drop-down lists (openpyxl data validation) offer the attendance codes, the
  marks and the work types; a mark outside the list is allowed with a warning («4/5» is two
  marks).
* sheet «Темы и задания»: a row per lesson — date, lesson, subject, subgroup — with the topic
  and the homework to fill.
* a hidden sheet «Списки» holds the drop-down lists.

Only the cells to fill are unlocked; the sheets are protected without a password (against a
slip of the hand, not against the teacher). Texts from the platform (names, subjects) are
written through :func:`core.documents.put_cell`, so none can run as a formula.

:func:`template_table` recognises such a workbook by its sheets and labels (not by a hidden id:
the file is the school's document) and turns every filled cell into an importer row — «mark»,
«attendance», «topic», «homework» — with the cell's address for the quarantine reason, so the
rows take exactly the CSV path (:func:`core.importer.import_table`): pupils looked up within the
class and subgroup, conflicts quarantined, one transaction, idempotent.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from core.codes import MARK_LABELS, WORK_TYPES, MarkValue
from core.documents import put_cell
from core.errors import ConfigError
from core.importer._read import ImportFileError, Table
from core.importer._roster import Roster
from core.model import (
    ClassUnit,
    Group,
    Lesson,
    Person,
    Subject,
    normalise_class_name,
)
from core.store import Store

__all__ = [
    "GRID_SHEET",
    "TOPICS_SHEET",
    "TemplateInput",
    "is_template",
    "template_bytes",
    "template_input",
    "template_table",
]

GRID_SHEET = "Журнал"
TOPICS_SHEET = "Темы и задания"
LISTS_SHEET = "Списки"
TITLE = "Временный журнал"
#: The attendance codes offered (the importer reads these and НП, ОТ, УП as well).
ATTENDANCE_CHOICES = ("Н", "У", "Б", "ОП", "ОСВ")
MARK_CHOICES = (
    *(
        MARK_LABELS[v]
        for v in (MarkValue.FIVE, MarkValue.FOUR, MarkValue.THREE, MarkValue.TWO, MarkValue.ONE)
    ),
    "зачёт",
    "незачёт",
    "осв.",
    "н/а",
)
#: Column A labels of the grid's header rows; the reader finds the rows by them.
_LABELS = ("Дата", "Урок", "Предмет", "Вид работы", "№")
_FIRST = 3  # the first lesson column (A: №, B: pupil)
_SUBGROUP = re.compile(r"^(.*), подгруппа (\d{1,3})$")
_GREY = PatternFill("solid", fgColor="D9D9D9")
_HEAD = PatternFill("solid", fgColor="EDEDED")
_UNLOCKED = Protection(locked=False)
_TOPIC_HEADER = ("Дата", "Урок", "Предмет", "Подгруппа", "Тема урока", "Домашнее задание")


@dataclass(frozen=True, slots=True)
class _Slot:
    lesson: Lesson
    subject: str
    subgroup: int
    members: frozenset[str]  # a subgroup's pupils; empty for the whole class


@dataclass(frozen=True, slots=True)
class TemplateInput:
    school_name: str
    class_name: str
    start: date
    end: date
    pupils: tuple[tuple[str, str], ...]  # (id, «Фамилия Имя Отчество»), in list order
    slots: tuple[_Slot, ...]


def _full(p: Person) -> str:
    return " ".join(x for x in (p.last_name, p.first_name, p.middle_name) if x)


def template_input(
    store: Store, school: str, platform: str, class_name: str, start: date, end: date
) -> TemplateInput:
    """What the template shows, from the school's snapshot on ``platform``."""
    if end < start:
        raise ConfigError(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}")
    if (end - start).days > 31:
        raise ConfigError("a temporary journal covers at most 31 days; make several")
    try:
        key = normalise_class_name(class_name)
    except ValueError:
        raise ConfigError(f"--class {class_name!r} is not a class name (5А, 11Б)") from None
    classes = [
        c
        for c in store.remote_records(school, platform, "class_unit")
        if isinstance(c, ClassUnit) and (c.grade, c.letter) == key
    ]
    if not classes:
        raise ConfigError(
            f"no class {class_name} in the snapshot of {school} on {platform}: pull the school "
            "first (the template is made from the last pulled roster and timetable)"
        )
    class_ids = {c.id for c in classes}
    groups = {
        g.id: g
        for g in store.remote_records(school, platform, "group")
        if isinstance(g, Group) and g.class_id in class_ids
    }
    subjects = {
        s.id: s.name
        for s in store.remote_records(school, platform, "subject")
        if isinstance(s, Subject)
    }
    lessons = sorted(
        (
            le
            for le in store.remote_records(school, platform, "lesson")
            if isinstance(le, Lesson) and le.group_id in groups and start <= le.date <= end
        ),
        key=lambda le: (le.date, le.number, groups[le.group_id].subgroup, le.id),
    )
    if not lessons:
        raise ConfigError(
            f"no lessons of {class_name} from {start:%d.%m.%Y} to {end:%d.%m.%Y} in the "
            "snapshot: pull the timetable first, or check the dates"
        )
    # The pupils the importer will look names up among: the template offers no other.
    roster = Roster(store, school, platform)
    ids = set().union(*(roster.class_pupils(c, start, end) for c in class_ids))
    people = {
        p.id: p
        for p in store.remote_records(school, platform, "person")
        if isinstance(p, Person) and p.id in ids
    }
    pupils = sorted(((pid, _full(p)) for pid, p in people.items()), key=lambda x: (x[1], x[0]))
    slots = tuple(
        _Slot(
            le,
            subjects.get(groups[le.group_id].subject_id, "?"),
            groups[le.group_id].subgroup,
            frozenset(groups[le.group_id].member_ids)
            if groups[le.group_id].subgroup
            else frozenset(),
        )
        for le in lessons
    )
    school_rec = next(iter(store.remote_records(school, platform, "school")), None)
    name = getattr(school_rec, "name", "") or school
    return TemplateInput(name, classes[0].name, start, end, tuple(pupils), slots)


def _subject_title(slot: _Slot) -> str:
    return f"{slot.subject}, подгруппа {slot.subgroup}" if slot.subgroup else slot.subject


def template_bytes(t: TemplateInput) -> bytes:
    """The workbook (XLSX bytes)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = GRID_SHEET
    lists = wb.create_sheet(LISTS_SHEET)
    columns = (ATTENDANCE_CHOICES, MARK_CHOICES, tuple(w.name for w in WORK_TYPES.values()))
    for col, values in enumerate(columns, start=1):
        for row, value in enumerate(values, start=1):
            put_cell(lists, row, col, value)
    lists.sheet_state = "hidden"
    ranges = [
        f"'{LISTS_SHEET}'!${get_column_letter(c)}$1:${get_column_letter(c)}${len(v)}"
        for c, v in enumerate(columns, start=1)
    ]
    attendance_dv = DataValidation(type="list", formula1=ranges[0], allow_blank=True)
    attendance_dv.error, attendance_dv.errorTitle = (
        "Код посещаемости: Н, У, Б, ОП или ОСВ",
        "Посещаемость",
    )
    mark_dv = DataValidation(type="list", formula1=ranges[1], allow_blank=True)
    mark_dv.errorStyle = "warning"  # «4/5» (two marks) and «·» are allowed, with a warning
    mark_dv.error, mark_dv.errorTitle = "Отметка не из списка: проверьте её", "Отметка"
    work_dv = DataValidation(type="list", formula1=ranges[2], allow_blank=False)
    work_dv.error, work_dv.errorTitle = "Выберите вид работы из списка", "Вид работы"
    for dv in (attendance_dv, mark_dv, work_dv):
        dv.showErrorMessage = True
        ws.add_data_validation(dv)

    bold = Font(bold=True)
    put_cell(ws, 1, 1, f"{TITLE} — {t.class_name} класс").font = Font(bold=True, size=14)
    put_cell(ws, 2, 1, f"Школа: {t.school_name}")
    put_cell(ws, 3, 1, f"Период: с {t.start:%d.%m.%Y} по {t.end:%d.%m.%Y}")
    put_cell(
        ws,
        4,
        1,
        "Ведётся, пока нет доступа к электронному журналу; после восстановления доступа "
        "записи переносятся в электронный журнал в течение 2 рабочих дней. Посещаемость: "
        "Н — без уважительной причины, У — по уважительной, Б — болел, ОП — опоздал, ОСВ — "
        "освобождён. Две отметки за урок — через «/» (4/5).",
    )
    put_cell(ws, 5, 1, "Класс")
    put_cell(ws, 5, 2, t.class_name).font = bold
    head = 7  # rows 7..10: Дата, Урок, Предмет, Вид работы; 11: №/Ученик; pupils from 12
    for i, label in enumerate(_LABELS):
        put_cell(ws, head + i, 1, label).font = bold
    put_cell(ws, head + 4, 2, "Ученик").font = bold
    answer = WORK_TYPES["answer"].name
    first_pupil = head + 5
    for k, slot in enumerate(t.slots):
        c = _FIRST + 2 * k
        le = slot.lesson
        heads: tuple[object, ...] = (f"{le.date:%d.%m.%Y}", le.number, _subject_title(slot))
        for r, head_value in enumerate(heads, start=head):
            put_cell(ws, r, c, head_value)
            ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=c + 1)
        put_cell(ws, head + 3, c, answer)
        ws.merge_cells(start_row=head + 3, start_column=c, end_row=head + 3, end_column=c + 1)
        ws.cell(row=head + 3, column=c).protection = _UNLOCKED
        work_dv.add(ws.cell(row=head + 3, column=c))
        put_cell(ws, head + 4, c, "Отметка").font = bold
        put_cell(ws, head + 4, c + 1, "Посещ.").font = bold
        for r in range(head, head + 5):
            for cc in (c, c + 1):
                ws.cell(row=r, column=cc).alignment = Alignment(horizontal="center", wrap_text=True)
                ws.cell(row=r, column=cc).fill = _HEAD
        for n, (pid, _) in enumerate(t.pupils):
            row = first_pupil + n
            for cc in (c, c + 1):
                cell = ws.cell(row=row, column=cc)
                if slot.members and pid not in slot.members:
                    cell.fill = _GREY  # not in this subgroup: locked
                else:
                    cell.protection = _UNLOCKED
                    (mark_dv if cc == c else attendance_dv).add(cell)
                cell.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(c)].width = 9
        ws.column_dimensions[get_column_letter(c + 1)].width = 7
    for n, (_, name) in enumerate(t.pupils):
        put_cell(ws, first_pupil + n, 1, n + 1)
        put_cell(ws, first_pupil + n, 2, name)
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 36
    ws.freeze_panes = f"{get_column_letter(_FIRST)}{first_pupil}"
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # widths may be changed
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.print_title_rows = f"{head}:{head + 4}"

    topics = wb.create_sheet(TOPICS_SHEET, 1)
    for i, title in enumerate(_TOPIC_HEADER, start=1):
        put_cell(topics, 1, i, title).font = bold
    for n, slot in enumerate(t.slots, start=2):
        le = slot.lesson
        put_cell(topics, n, 1, f"{le.date:%d.%m.%Y}")
        put_cell(topics, n, 2, le.number)
        put_cell(topics, n, 3, slot.subject)
        put_cell(topics, n, 4, str(slot.subgroup) if slot.subgroup else "")
        for i in (5, 6):
            cell = topics.cell(row=n, column=i)
            cell.protection = _UNLOCKED
            cell.alignment = Alignment(wrap_text=True)
    for letter, width in zip("ABCDEF", (12, 6, 28, 11, 50, 50), strict=True):
        topics.column_dimensions[letter].width = width
    topics.freeze_panes = "A2"
    topics.protection.sheet = True
    topics.protection.formatColumns = False
    topics.protection.formatRows = False
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# -- reading it back ---------------------------------------------------------------------------


def is_template(source: Path) -> bool:
    """An XLSX with the template's sheets and its title."""
    if source.suffix.lower() != ".xlsx":
        return False
    try:
        wb = load_workbook(source, read_only=True)
    except Exception:
        return False
    try:
        if GRID_SHEET not in wb.sheetnames or TOPICS_SHEET not in wb.sheetnames:
            return False
        title = wb[GRID_SHEET].cell(row=1, column=1).value
        return isinstance(title, str) and title.startswith(TITLE)
    finally:
        wb.close()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date):
        return f"{value:%d.%m.%Y}"
    return str(value).strip()


def _grid(ws: Worksheet, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    rows = [[_text(c) for c in r] for r in ws.iter_rows(values_only=True)]
    at: dict[str, int] = {}
    class_name = ""
    for i, r in enumerate(rows):
        if r and r[0] in _LABELS and r[0] not in at:
            at[r[0]] = i
        if r and r[0] == "Класс" and len(r) > 1:
            class_name = r[1]
    missing = [label for label in _LABELS if label not in at]
    if missing or not class_name:
        raise ImportFileError(
            f"{name}, sheet «{GRID_SHEET}»: not the layout of a temporary journal (no row "
            f"«{missing[0] if missing else 'Класс'}» in column A)"
        )
    dates, numbers, subjects, works = (rows[at[k]] for k in _LABELS[:4])
    width = max(len(r) for r in rows)
    for k in range(_FIRST - 1, width - 1, 2):
        day = dates[k] if k < len(dates) else ""
        if not day:
            continue
        subject = subjects[k] if k < len(subjects) else ""
        m = _SUBGROUP.match(subject)
        subgroup = m.group(2) if m else ""
        subject = m.group(1) if m else subject
        where = {
            "class": class_name,
            "subject": subject,
            "subgroup": subgroup,
            "date": day,
            "lesson": numbers[k] if k < len(numbers) else "",
        }
        work = works[k] if k < len(works) else ""
        for i in range(at["№"] + 1, len(rows)):
            r = rows[i]
            student = r[1] if len(r) > 1 else ""
            for col, kind, field in ((k, "mark", "value"), (k + 1, "attendance", "code")):
                value = r[col] if col < len(r) else ""
                if not value:
                    continue
                cell = f"{get_column_letter(col + 1)}{i + 1}"
                row = {**where, "kind": kind, "student": student, field: value,
                       "\0cell": f"«{GRID_SHEET}»!{cell}"}  # fmt: skip
                if kind == "mark":
                    row["work_type"] = work
                yield i + 1, row


def _topics(ws: Worksheet, class_name: str) -> Iterator[tuple[int, dict[str, str]]]:
    rows = [[_text(c) for c in r] for r in ws.iter_rows(values_only=True)]
    for i, r in enumerate(rows[1:], start=2):
        r = [*r, *[""] * (6 - len(r))]
        where = {"class": class_name, "date": r[0], "lesson": r[1], "subject": r[2],
                 "subgroup": r[3]}  # fmt: skip
        if r[4]:
            yield i, {**where, "kind": "topic", "topic": r[4],
                      "\0cell": f"«{TOPICS_SHEET}»!E{i}"}  # fmt: skip
        if r[5]:
            yield i, {**where, "kind": "homework", "text": r[5],
                      "\0cell": f"«{TOPICS_SHEET}»!F{i}"}  # fmt: skip


def template_table(source: Path) -> Table:
    """The filled template as importer rows: one per filled cell, numbered in reading order
    (a pupil's row holds many entries, and the importer keys conflicts by row); a quarantine
    reason names the cell («Журнал»!E12) instead."""
    data = source.read_bytes()
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(
            f"{source.name}: not a readable workbook ({type(exc).__name__})"
        ) from None
    grid = list(_grid(wb[GRID_SHEET], source.name))
    class_name = next((r["class"] for _, r in grid), "") or _class_of(wb[GRID_SHEET])
    topics = list(_topics(wb[TOPICS_SHEET], class_name))
    wb.close()
    rows: Sequence[tuple[int, dict[str, str]]] = [
        (n, row) for n, (_, row) in enumerate([*grid, *topics], start=1)
    ]
    return Table(
        source.name,
        hashlib.sha256(data).hexdigest(),
        ("kind", "class", "subject", "subgroup", "date", "lesson", "student", "work_type",
         "value", "code", "topic", "text"),
        iter(rows),
        f"temporary journal of {class_name}: {len(grid)} filled cells, "
        f"{len(topics)} topics and homework",
    )  # fmt: skip


def _class_of(ws: Worksheet) -> str:
    for r in ws.iter_rows(values_only=True, max_row=20):
        if r and r[0] == "Класс" and len(r) > 1:
            return _text(r[1])
    return ""
