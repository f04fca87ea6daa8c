"""The per-class journal XLSX of a package: a sheet per subject group (students × lesson dates,
cells with attendance codes and marks, final marks on the right) and a sheet of lesson topics and
homework. Built on the documents kit (Russian, A4 landscape, header frozen)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core import documents
from core.codes import ATTENDANCE_LABELS, MARK_LABELS
from core.documents import Cell, Column, Section, TableDocument
from core.model import (
    Attendance,
    ClassUnit,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Mark,
    Period,
    Person,
)
from core.package._model import Package, PackageItem, full_name, name_key
from core.package._oneroster import period_title

__all__ = ["LEGEND", "class_workbooks", "journal_file_name", "workbook_bytes"]

LEGEND = (
    "Посещаемость: Н — отсутствовал без уважительной причины, У — по уважительной причине, "
    "Б — болел, ОП — опоздал, ОСВ — освобождён. Отметки: 5, 4, 3, 2, 1, «зачёт», «незачёт», "
    "«осв.» — освобождён, «н/а» — не аттестован, «·» — точка (долг). Несколько отметок за урок "
    "записаны через пробел; «удалить …» — запись, которую нужно удалить."
)
_NO_CLASS = "без класса"


@dataclass(slots=True)
class _GroupContent:
    group: Group
    lessons: set[str] = field(default_factory=set)
    students: set[str] = field(default_factory=set)
    cells: dict[tuple[str, str], list[tuple[tuple[object, ...], str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    finals: set[str] = field(default_factory=set)


def journal_file_name(cu: ClassUnit | None, class_id: str = "") -> str:
    """«journal/7А.xlsx» (the class name is a digit and a Cyrillic letter: safe in a zip)."""
    return f"journal/{cu.name}.xlsx" if cu else f"journal/{_NO_CLASS} {class_id[:8]}.xlsx"


def _label(item: PackageItem) -> str:
    rec = item.record
    if isinstance(rec, Mark | FinalMark):
        text = MARK_LABELS.get(rec.value, rec.value.value)
    elif isinstance(rec, Attendance):
        text = ATTENDANCE_LABELS.get(rec.code, rec.code.value)
    else:
        return ""
    return f"удалить {text}" if item.op == "delete" else text


def _contents(package: Package) -> dict[str, _GroupContent]:
    by_group: dict[str, _GroupContent] = {}

    def content(group: Group) -> _GroupContent:
        return by_group.setdefault(group.id, _GroupContent(group))

    for item in package.items:
        rec = item.record
        if isinstance(rec, FinalMark):
            group = package.final_group(rec)
            if group is None:
                continue
            gc = content(group)
            gc.finals.add(rec.period_id)
            gc.students.add(rec.student_id)
            gc.cells[(rec.student_id, rec.period_id)].append(((0,), _label(item)))
            continue
        lesson_id = rec.id if isinstance(rec, Lesson) else getattr(rec, "lesson_id", None)
        lesson = package.get(Lesson, lesson_id)
        group = package.get(Group, lesson.group_id) if lesson else None
        if lesson is None or group is None:
            continue
        gc = content(group)
        gc.lessons.add(lesson.id)
        if isinstance(rec, Attendance):
            gc.students.add(rec.student_id)
            gc.cells[(rec.student_id, lesson.id)].append(((0, "", 0), _label(item)))
        elif isinstance(rec, Mark):
            gc.students.add(rec.student_id)
            key = (1, rec.work_type, rec.ordinal)
            gc.cells[(rec.student_id, lesson.id)].append((key, _label(item)))
    for gc in by_group.values():
        gc.students |= set(package.members.get(gc.group.id, ()))
    return by_group


def _lesson_titles(lessons: Sequence[Lesson]) -> list[str]:
    per_day: dict[object, int] = defaultdict(int)
    for le in lessons:
        per_day[le.date] += 1
    return [
        f"{le.date:%d.%m}" + (f" ({le.number} ур.)" if per_day[le.date] > 1 else "")
        for le in lessons
    ]


def _teacher(package: Package, group: Group) -> str:
    names = [full_name(p) for t in group.teacher_ids if (p := package.get(Person, t))]
    return ", ".join(names) or "не указан"


def _group_doc(package: Package, gc: _GroupContent, meta: list[str]) -> TableDocument:
    g = gc.group
    lessons = sorted(
        (le for lid in gc.lessons if (le := package.get(Lesson, lid))),
        key=lambda le: (le.date, le.number, le.id),
    )
    periods = sorted(
        (p for pid in gc.finals if (p := package.get(Period, pid))),
        key=lambda p: (p.end, p.start, p.id),
    )
    people = [(sid, package.get(Person, sid)) for sid in gc.students]
    people.sort(key=lambda sp: (sp[1] is None, name_key(full_name(sp[1])) if sp[1] else sp[0]))
    columns = [
        Column("№", 4, "right"),
        Column("Ученик", 30),
        *(Column(t, 8, "center") for t in _lesson_titles(lessons)),
        *(Column(period_title(p), 10, "center") for p in periods),
    ]
    rows: list[list[Cell]] = []
    for n, (sid, person) in enumerate(people, start=1):
        row: list[Cell] = [n, full_name(person) if person else "(ученик не найден)"]
        for col_id in [le.id for le in lessons] + [p.id for p in periods]:
            cell = sorted(gc.cells.get((sid, col_id), []), key=lambda kv: kv[0])
            row.append(" ".join(text for _, text in cell) or None)
        rows.append(row)
    subject = package.subject_name(g.subject_id)
    cu = package.get_class(g.class_id)
    sheet = subject + (f" ({g.subgroup} гр.)" if g.subgroup else "")
    return TableDocument(
        title=f"Журнал {cu.name if cu else ''}: {subject}",
        columns=columns,
        sections=[Section(rows=rows)],
        meta=[
            *meta,
            f"Предмет: {subject}" + (f", подгруппа {g.subgroup}" if g.subgroup else ""),
            f"Учитель: {_teacher(package, g)}",
        ],
        note=LEGEND,
        sheet_name=sheet,
        landscape=True,
    )


def _topics_doc(
    package: Package, groups: Sequence[_GroupContent], meta: list[str]
) -> TableDocument:
    topics: dict[str, str] = {}
    homework: dict[str, list[str]] = defaultdict(list)
    for item in package.items:
        rec = item.record
        if isinstance(rec, Lesson):
            topics[rec.id] = "удалить тему" if item.op == "delete" else rec.topic
        elif isinstance(rec, Homework):
            due = f" (срок {rec.due_date:%d.%m.%Y})" if rec.due_date else ""
            text = f"удалить: {rec.text}" if item.op == "delete" else rec.text + due
            homework[rec.lesson_id].append(text)
    rows: list[list[Cell]] = []
    lessons = sorted(
        (
            (le, gc.group)
            for gc in groups
            for lid in gc.lessons
            if (le := package.get(Lesson, lid)) and (lid in topics or lid in homework)
        ),
        key=lambda lg: (lg[0].date, lg[0].number, lg[0].id),
    )
    for le, g in lessons:
        subject = package.subject_name(g.subject_id)
        if g.subgroup:
            subject += f" ({g.subgroup} гр.)"
        rows.append([le.date, le.number, subject, topics.get(le.id, ""),
                     "; ".join(homework.get(le.id, []))])  # fmt: skip
    return TableDocument(
        title="Темы уроков и домашние задания",
        columns=[
            Column("Дата", 11),
            Column("Урок", 6, "right"),
            Column("Предмет", 22, wrap=True),
            Column("Тема урока", 40, wrap=True),
            Column("Домашнее задание", 40, wrap=True),
        ],
        sections=[Section(rows=rows)],
        meta=meta,
        sheet_name="Темы уроков",
        landscape=True,
        empty_text="Тем уроков и домашних заданий в пакете нет.",
    )


def _unique(docs: list[TableDocument]) -> list[TableDocument]:
    seen: set[str] = set()
    out: list[TableDocument] = []
    for doc in docs:
        name, n = doc.sheet_name[:28], 1
        while name.lower() in seen:
            n += 1
            name = f"{doc.sheet_name[:26]} {n}"
        seen.add(name.lower())
        out.append(doc if name == doc.sheet_name else replace(doc, sheet_name=name))
    return out


def class_workbooks(package: Package, meta: list[str]) -> dict[str, list[TableDocument]]:
    """Per class file name (``journal/7А.xlsx``): its sheets, groups by subject, topics last."""
    by_class: dict[str, list[_GroupContent]] = defaultdict(list)
    for gc in _contents(package).values():
        by_class[gc.group.class_id].append(gc)
    out: dict[str, list[TableDocument]] = {}
    order = sorted(
        by_class,
        key=lambda cid: (c.grade, c.letter) if (c := package.get_class(cid)) else (99, cid),
    )
    for class_id in order:
        groups = sorted(
            by_class[class_id],
            key=lambda gc: (name_key(package.subject_name(gc.group.subject_id)), gc.group.subgroup),
        )
        cu = package.get_class(class_id)
        class_meta = [f"Класс: {cu.name if cu else _NO_CLASS}", *meta]
        docs = [_group_doc(package, gc, class_meta) for gc in groups]
        docs.append(_topics_doc(package, groups, class_meta))
        out[journal_file_name(cu, class_id)] = _unique(docs)
    return out


def workbook_bytes(docs: Sequence[TableDocument]) -> bytes:
    """The workbook as XLSX bytes (not yet normalised for a reproducible package)."""
    buf = io.BytesIO()
    documents.workbook(*docs).save(buf)
    return buf.getvalue()
