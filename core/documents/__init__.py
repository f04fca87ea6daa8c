"""The documents kit: Russian spreadsheets and printable PDFs for schools.

Every printable document of the project (worklists, compliance reports, the сводная ведомость,
the табель) is a :class:`TableDocument` — title, meta lines, columns, sections of rows, signature
lines — rendered by :func:`write_xlsx` (openpyxl: frozen header, widths, A4 fit-to-width) and
:func:`write_pdf` (reportlab: A4, the bundled DejaVu Sans, header repeated on every page,
«стр. N из M»). Documents with a custom layout use :func:`build_pdf` with their own flowables
and :func:`pdf_styles`, or :func:`add_table_sheet` on their own workbook.

The fonts (DejaVu Sans regular and bold, licence in ``fonts/LICENSE``) are package data.
"""

from core.documents._fonts import FONT, FONT_BOLD, font_path, register_fonts
from core.documents._pdf import build_pdf, pdf_bytes, pdf_styles, signature_block, write_pdf
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
    "font_path",
    "format_cell",
    "local_time",
    "pdf_bytes",
    "pdf_styles",
    "register_fonts",
    "signature_block",
    "workbook",
    "write_pdf",
    "write_xlsx",
]
