"""XLSX rendering on openpyxl: title, meta lines, a bold frozen header row, section rows,
column widths, and a print setup (A4, fit to one page wide, header row repeated)."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from core.documents._safe import put_cell
from core.documents._table import Cell, TableDocument
from core.files import write_private

__all__ = ["add_table_sheet", "workbook", "write_xlsx"]

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_SECTION_FILL = PatternFill("solid", fgColor="F2F2F2")
_INVALID_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _sheet_title(name: str) -> str:
    return name.translate(_INVALID_SHEET_CHARS)[:31] or "Лист1"


def _xlsx_value(value: Cell) -> str | int | float | date | None:
    # openpyxl writes datetimes as dates with a time part; keep plain dates plain
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def add_table_sheet(wb: Workbook, doc: TableDocument, *, first: bool = False) -> Worksheet:
    """Add ``doc`` as one worksheet of ``wb`` (``first``: reuse the workbook's empty sheet)."""
    ws: Worksheet
    if first and wb.active is not None and isinstance(wb.active, Worksheet):
        ws = wb.active
        ws.title = _sheet_title(doc.sheet_name)
    else:
        ws = wb.create_sheet(_sheet_title(doc.sheet_name))
    ncols = len(doc.columns)
    last_col = get_column_letter(ncols)

    put_cell(ws, 1, 1, doc.title).font = Font(bold=True, size=14)
    if ncols > 1:
        ws.merge_cells(f"A1:{last_col}1")
    row = 2
    for line in doc.meta:
        put_cell(ws, row, 1, line)
        if ncols > 1:
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
        row += 1
    row += 1  # a blank line before the table

    header_row = row
    for i, col in enumerate(doc.columns, start=1):
        c = put_cell(ws, row, i, col.title)
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
        c.border = _BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = col.width
    row += 1

    for section in doc.sections:
        if section.heading:
            c = put_cell(ws, row, 1, section.heading)
            c.font = Font(bold=True)
            for i in range(1, ncols + 1):
                ws.cell(row=row, column=i).fill = _SECTION_FILL
                ws.cell(row=row, column=i).border = _BORDER
            if ncols > 1:
                ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
            row += 1
        for values in section.rows:
            for i, (col, value) in enumerate(zip(doc.columns, values, strict=True), start=1):
                c = put_cell(ws, row, i, _xlsx_value(value))
                c.border = _BORDER
                c.alignment = Alignment(horizontal=col.align, vertical="top", wrap_text=col.wrap)
                if isinstance(value, date):
                    c.number_format = "DD.MM.YYYY"
            row += 1
    if doc.row_count == 0:
        put_cell(ws, row, 1, doc.empty_text).font = Font(italic=True)
        row += 1

    if doc.note:
        row += 1
        put_cell(ws, row, 1, doc.note).font = Font(italic=True)
        row += 1
    if doc.signatures:
        row += 1
        for label in doc.signatures:
            put_cell(ws, row, 1, f"{label}: ____________ / ____________ /")
            row += 1

    ws.freeze_panes = f"A{header_row + 1}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if doc.landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed
    if ws.sheet_properties.pageSetUpPr is None:
        ws.sheet_properties.pageSetUpPr = PageSetupProperties()
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    if ws.oddFooter is not None:
        ws.oddFooter.center.text = "стр. &P из &N"
    return ws


def workbook(*docs: TableDocument) -> Workbook:
    """A workbook with one sheet per document (sheet names must differ)."""
    if not docs:
        raise ValueError("a workbook needs at least one document")
    wb = Workbook()
    for i, doc in enumerate(docs):
        add_table_sheet(wb, doc, first=i == 0)
    first = docs[0]
    wb.properties.title = first.title
    wb.properties.creator = first.extra.get("author", "journalsync")
    if "subject" in first.extra:
        wb.properties.subject = first.extra["subject"]
    return wb


def write_xlsx(path: str | Path, *docs: TableDocument) -> Path:
    """Write the documents (one sheet each) to ``path``; returns the path."""
    buf = io.BytesIO()
    workbook(*docs).save(buf)
    return write_private(path, buf.getvalue())  # owner-only: journal data of minors
