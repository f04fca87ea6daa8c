"""The table document both renderers (XLSX, PDF) take: title, meta lines, columns, sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["Cell", "Column", "Section", "TableDocument", "format_cell", "local_time"]

Cell = str | int | float | date | None
"""A cell value. Dates print as «ДД.ММ.ГГГГ»; ``None`` prints as an empty cell."""


@dataclass(frozen=True)
class Column:
    """One column: its header, width in characters (XLSX; PDF scales widths to the page)."""

    title: str
    width: float = 12
    align: Literal["left", "center", "right"] = "left"
    wrap: bool = False


@dataclass(frozen=True)
class Section:
    """A run of rows under an optional heading row that spans the whole table."""

    rows: Sequence[Sequence[Cell]]
    heading: str = ""


@dataclass(frozen=True)
class TableDocument:
    """A printable table: a title, a few meta lines («Школа: …», «Период: …»), one table
    (header row + sections of rows), an optional note and signature lines.

    ``signatures`` are labels such as «Учитель» or «Заместитель директора по УВР»; each gets a
    line «Label ______________ / ______________ /» in the PDF and a row in the XLSX.

    ``running_head`` (e.g. «Класс: 5А») is what the document is about: the PDF repeats it, after
    the title, at the top of each of the document's pages after its first, so a page of a
    several-class file still names its class. A section's heading row is repeated under the
    header row on each page that section continues on.
    """

    title: str
    columns: Sequence[Column]
    sections: Sequence[Section]
    meta: Sequence[str] = ()
    note: str = ""
    signatures: Sequence[str] = ()
    sheet_name: str = "Лист1"
    landscape: bool = False
    empty_text: str = "Записей нет."
    running_head: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # document properties (author, subject)

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("a table document needs at least one column")
        width = len(self.columns)
        for section in self.sections:
            for row in section.rows:
                if len(row) != width:
                    raise ValueError(f"row has {len(row)} cells, the table has {width} columns")

    @property
    def row_count(self) -> int:
        return sum(len(s.rows) for s in self.sections)


def format_cell(value: Cell) -> str:
    """The printed form of a cell (PDF, text): dates as «ДД.ММ.ГГГГ», floats without «.0»."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def local_time(at: datetime, timezone: str) -> str:
    """A moment as a school reads it: «03.12.2026 17:22 (местное время, Asia/Barnaul)» — in the
    school's own zone, never a UTC stamp (a naive ``at`` is taken as UTC, as the store keeps)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(timezone))
    return f"{local:%d.%m.%Y %H:%M} (местное время, {timezone})"
