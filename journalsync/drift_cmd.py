"""``journalsync drift``: the findings in words (pupil, class, subject, lesson, what differs),
paged in the terminal, or every finding exported as JSON, CSV or XLSX."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path

from rich.table import Table

from core.documents import Column, Section, TableDocument, csv_text, write_xlsx
from core.errors import ConfigError
from core.files import write_private
from core.store import DriftRow, Store
from journalsync._common import console

__all__ = ["DriftFormat", "export_findings", "print_findings"]

#: Rows per terminal page unless ``--limit`` says otherwise.
PAGE_SIZE = 50

_HEADERS = (
    "Ученик",
    "Класс",
    "Предмет",
    "Дата",
    "Урок",
    "Что",
    "Расхождение",
    "Поле",
    "В журнале школы",
    "На платформе",
    "Статус",
    "Код находки",
)


class DriftFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


def _rows(store: Store, school: str, platform: str, status: str | None) -> list[DriftRow]:
    findings = store.findings(school, platform, status=status)
    rows = store.describe_findings(school, platform, findings)
    return sorted(
        rows,
        key=lambda r: (
            r.class_name,
            r.student.replace("Ё", "Е"),
            r.subject,
            r.day or date.max,
            r.lesson_number or 0,
        ),
    )


def _flat(rows: list[DriftRow]) -> list[list[str | int | None]]:
    """One line per differing field (one per finding where nothing field-wise differs)."""
    out: list[list[str | int | None]] = []
    for r in rows:
        head: list[str | int | None] = [
            r.student,
            r.class_name,
            r.subject,
            f"{r.day:%d.%m.%Y}" if r.day else r.period,
            r.lesson_number,
            r.what,
            r.kind_text,
        ]
        tail: list[str | int | None] = [r.status, r.id[:12]]
        if r.changes:
            out += [[*head, c.field, c.local, c.platform, *tail] for c in r.changes]
        else:
            out.append([*head, "", "", "", *tail])
    return out


def print_findings(
    store: Store,
    school: str,
    platform: str,
    status: str | None = "open",
    *,
    page: int = 1,
    limit: int = PAGE_SIZE,
) -> int:
    """Print one page of the findings in words; returns how many findings there are."""
    rows = _rows(store, school, platform, status)
    total = len(rows)
    size = limit if limit > 0 else max(total, 1)
    pages = max(1, -(-total // size))
    if page < 1 or page > pages:
        raise ConfigError(f"--page {page}: there are {pages} page(s) of {size} findings")
    shown = rows[(page - 1) * size : page * size]
    table = Table(title=f"Drift ({status or 'all'}) — {school} on {platform}")
    for col in ("Ученик", "Класс", "Предмет", "Дата", "Урок", "Что", "Журнал школы → платформа"):
        table.add_column(col, overflow="fold")
    for r in shown:
        table.add_row(
            r.student,
            r.class_name,
            r.subject,
            f"{r.day:%d.%m.%Y}" if r.day else r.period,
            str(r.lesson_number or ""),
            r.what,
            r.summary(),
        )
    console.print(table)
    if total > len(shown):
        first = (page - 1) * size + 1
        tip = f"; next: --page {page + 1}" if page < pages else ""
        console.print(
            f"findings {first}–{first + len(shown) - 1} of {total} (page {page} of {pages}{tip};"
            " all at once: --limit 0, or --format csv|json|xlsx --out FILE)",
            highlight=False,
        )
    return total


def _csv_field(value: object) -> object:
    if value is None:
        return ""
    return csv_text(value) if isinstance(value, str) else value


def export_findings(
    store: Store,
    school: str,
    platform: str,
    status: str | None,
    fmt: DriftFormat,
    out: Path,
    *,
    mask: Callable[[DriftRow], DriftRow] | None = None,
) -> int:
    """Write every finding to ``out`` as JSON, CSV (UTF-8 with BOM, «;») or XLSX; ``mask``
    rewrites each row first (the web console's auditors see pupils as initials)."""
    rows = _rows(store, school, platform, status)
    if mask is not None:
        rows = [mask(r) for r in rows]
    if fmt is DriftFormat.JSON:
        doc = {
            "school": school,
            "platform": platform,
            "status": status,
            "findings": [r.as_json() for r in rows],
        }
        write_private(out, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    elif fmt is DriftFormat.CSV:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
        writer.writerow(_HEADERS)
        # Text stays text: a value a spreadsheet would read as a formula gets a leading «'».
        writer.writerows([_csv_field(v) for v in row] for row in _flat(rows))
        write_private(out, "\ufeff" + buf.getvalue())
    elif fmt is DriftFormat.XLSX:
        widths = (22, 7, 18, 11, 6, 14, 18, 16, 20, 20, 9, 14)
        write_xlsx(
            out,
            TableDocument(
                title="Расхождения журнала школы и платформы",
                columns=[Column(h, w, wrap=True) for h, w in zip(_HEADERS, widths, strict=True)],
                sections=[Section(_flat(rows))],
                meta=[f"Школа: {school}", f"Платформа: {platform}", f"Находок: {len(rows)}"],
                sheet_name="Расхождения",
                landscape=True,
            ),
        )
    else:
        raise ConfigError("--out takes json, csv or xlsx; the table is for the terminal")
    return len(rows)
