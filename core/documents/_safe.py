"""Text stays text: values that a spreadsheet would run as a formula are written as text.

A topic, a homework, a subject or a surname comes from a platform or a school's own file, so
it may begin with ``=`` (``=HYPERLINK("http://…"&A1)``, ``=cmd|' /C calc'!A0``) or with another
character a spreadsheet takes as the start of a formula (``+``, ``-``, ``@``, a tab, a carriage
return). Every document writer of the project goes through these helpers:

* XLSX: a text value is stored as a string cell (``data_type "s"``), never a formula; the value
  is kept exactly as it was, and a formula-like one also gets Excel's quote prefix style, so
  it stays text when someone edits the cell. Numbers, dates and empty cells are written as
  they are, so a negative number stays a number.
* CSV: a text value starting with one of those characters gets a single quote ``'`` in front
  (the OWASP CSV-injection convention); a reader strips it. Values that read as a plain number
  (``-1``, ``+3.5``) are left alone — they are data, not formulas.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["FORMULA_TRIGGERS", "csv_text", "looks_like_formula", "put_cell"]

#: The first characters that make a spreadsheet read a cell as a formula (OWASP list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula if it were not escaped."""
    return text.startswith(FORMULA_TRIGGERS) and not _is_number(text)


def csv_text(value: str) -> str:
    """``value`` as a CSV field that no spreadsheet runs: ``'`` in front of a formula-like one."""
    return "'" + value if looks_like_formula(value) else value


def put_cell(ws: Worksheet, row: int, column: int, value: Any) -> XlsxCell:
    """Write ``value`` at (row, column); text is always a string cell, never a formula."""
    cell: XlsxCell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        # openpyxl turns any string starting with "=" into a formula; undo that.
        cell.data_type = "s"
        if looks_like_formula(value):
            # Excel's «'» prefix: the cell stays text even after someone edits it.
            cell.quotePrefix = True
    return cell
