"""The worklist as a Russian document: XLSX and printable PDF through the documents kit."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from core import documents
from core.documents import Cell, Column, Section, TableDocument, local_time
from core.platform import platform_title
from core.worklist._model import Entry, Worklist

__all__ = ["file_stem", "to_document", "write_pdf", "write_xlsx"]

COLUMNS = (
    Column("№", 4, "right"),
    Column("Ученик", 26, wrap=True),
    Column("Что внести", 13, wrap=True),
    Column("Значение", 22, "left", wrap=True),
    Column("Вид работы, вес", 16, wrap=True),
    Column("Сейчас на платформе", 18, wrap=True),
    Column("✓", 4, "center"),
)

NOTE = (
    "Внесите каждую запись в электронный журнал и отметьте её в графе «✓». «Сейчас на "
    "платформе» — что показывала платформа при формировании списка. После внесения записи "
    "сверяются автоматически при следующей синхронизации; запись с другим значением будет "
    "показана как расхождение."
)


def _work(e: Entry) -> str:
    if e.kind != "mark":
        return ""
    parts = [e.work_type_name or e.work_type or ""]
    if e.ordinal and e.ordinal > 1:
        parts.append(f"{e.ordinal}-я оценка")
    if e.weight is not None:
        parts.append(f"вес {e.weight:g}".replace(".", ","))
    return ", ".join(p for p in parts if p)


def _value(e: Entry) -> str:
    if e.op == "delete":
        return "удалить"
    text = e.label
    if e.comment:
        text += f" ({e.comment})"
    return text


def _rows(entries: tuple[Entry, ...]) -> list[list[Cell]]:
    return [
        [n, e.student or "—", e.what, _value(e), _work(e), e.current or "—", ""]
        for n, e in enumerate(entries, start=1)
    ]


def to_document(worklist: Worklist) -> TableDocument:
    """The worklist as a :class:`~core.documents.TableDocument` (one section per lesson)."""
    lessons = sum(1 for b in worklist.blocks if b.lesson_id)
    meta = [
        f"Учитель: {worklist.teacher}",
        f"Школа: {worklist.school_name or worklist.school}",
        f"Платформа: {platform_title(worklist.platform)}",
        f"Сформирован: {_stamp(worklist.generated_at, worklist.timezone)}",
        f"Записей: {worklist.entry_count}; уроков: {lessons}",
    ]
    if worklist.unresolved:
        meta.append(
            f"Не удалось определить урок или ученика для {worklist.unresolved} записей: "
            "проверьте их по журналу школы."
        )
    return TableDocument(
        title="Лист внесения записей в электронный журнал",
        columns=COLUMNS,
        sections=[Section(rows=_rows(b.entries), heading=b.heading) for b in worklist.blocks],
        meta=meta,
        note=NOTE,
        signatures=["Учитель", "Проверил (заместитель директора по УВР)"],
        sheet_name=_short(worklist.teacher),
        extra={"subject": f"worklist {worklist.platform}"},
    )


def _stamp(at: datetime, timezone: str) -> str:
    return local_time(at, timezone)


def _short(name: str) -> str:
    parts = name.split()
    if len(parts) < 2:
        return name or "Список"
    return parts[0] + " " + "".join(f"{p[0]}." for p in parts[1:3])


_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


def file_stem(worklist: Worklist) -> str:
    """A file name stem: «worklist_2025-03-14_Петрова_А.С.» (no path separators)."""
    who = _UNSAFE.sub("_", _short(worklist.teacher)).strip("_.") or "teacher"
    return f"worklist_{worklist.generated_at:%Y-%m-%d}_{who}"


def write_xlsx(worklist: Worklist, path: str | Path) -> Path:
    """Write the worklist as an XLSX file (one sheet, A4, header frozen)."""
    return documents.write_xlsx(path, to_document(worklist))


def write_pdf(worklist: Worklist, path: str | Path) -> Path:
    """Write the worklist as a printable A4 PDF."""
    out = Path(path)
    documents.write_pdf(out, to_document(worklist))
    return out
