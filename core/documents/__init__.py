"""The documents kit: Russian spreadsheets and printable PDFs for schools.

Every printable document of the project (worklists, compliance reports, the сводная ведомость,
the табель) is a :class:`TableDocument` — title, meta lines, columns, sections of rows, signature
lines — rendered by :func:`write_xlsx` (openpyxl: frozen header, widths, A4 fit-to-width) and
:func:`write_pdf` (reportlab: A4, the bundled DejaVu Sans, header repeated on every page,
«стр. N из M»). Documents with a custom layout use :func:`build_pdf` with their own flowables
and :func:`pdf_styles`, or :func:`add_table_sheet` on their own workbook.

Text stays text: every cell goes through :func:`put_cell` (a string is a string cell, never a
formula) and every CSV field through :func:`csv_text` (a formula-like value gets a leading
``'``), so a topic or a surname starting with ``=`` cannot run in a school's spreadsheet.

The fonts (DejaVu Sans regular and bold, licence in ``fonts/LICENSE``) are package data.
"""

from core.documents._fonts import FONT, FONT_BOLD, font_path, register_fonts
from core.documents._pdf import build_pdf, pdf_bytes, pdf_styles, signature_block, write_pdf
from core.documents._safe import csv_text, looks_like_formula, put_cell
from core.documents._table import (
    Cell,
    Column,
    Section,
    TableDocument,
    format_cell,
    local_time,
)
from core.documents._xlsx import add_table_sheet, workbook, write_xlsx

__all__ = [
    "FONT",
    "FONT_BOLD",
    "Cell",
    "Column",
    "Section",
    "TableDocument",
    "add_table_sheet",
    "build_pdf",
    "csv_text",
    "font_path",
    "format_cell",
    "local_time",
    "looks_like_formula",
    "pdf_bytes",
    "pdf_styles",
    "put_cell",
    "register_fonts",
    "signature_block",
    "workbook",
    "write_pdf",
    "write_xlsx",
]
