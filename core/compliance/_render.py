"""Write report documents as XLSX, PDF (through ``core.documents``) or HTML (the dashboard)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from core.documents import TableDocument, format_cell, write_pdf, write_xlsx
from core.files import private_dir, write_private

__all__ = ["FORMATS", "render_html", "write_report"]

FORMATS = ("xlsx", "pdf", "html")

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:13px;margin:1.5em}
h1{font-size:18px;margin:1.2em 0 .3em}p.meta{margin:.1em 0;color:#333}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #999;padding:2px 6px}
th{background:#d9e1f2}td.num{text-align:right}tr.section td{background:#f2f2f2;font-weight:bold}
p.note{font-size:12px;color:#444}.sign{margin-top:1.5em}
"""


def render_html(docs: Sequence[TableDocument]) -> str:
    """A self-contained HTML page with every document (for the dashboard and e-mail)."""
    parts = ['<!doctype html><html lang="ru"><head><meta charset="utf-8">']
    title = docs[0].title if docs else "Отчёт"
    parts.append(f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>")
    for doc in docs:
        parts.append(f"<section><h1>{escape(doc.title)}</h1>")
        parts += [f'<p class="meta">{escape(m)}</p>' for m in doc.meta]
        if doc.row_count:
            parts.append("<table><thead><tr>")
            parts += [f"<th>{escape(c.title)}</th>" for c in doc.columns]
            parts.append("</tr></thead><tbody>")
            for section in doc.sections:
                if section.heading:
                    parts.append(
                        f'<tr class="section"><td colspan="{len(doc.columns)}">'
                        f"{escape(section.heading)}</td></tr>"
                    )
                for row in section.rows:
                    cells = (
                        f'<td class="num">{escape(format_cell(v))}</td>'
                        if c.align == "right"
                        else f"<td>{escape(format_cell(v))}</td>"
                        for c, v in zip(doc.columns, row, strict=True)
                    )
                    parts.append("<tr>" + "".join(cells) + "</tr>")
            parts.append("</tbody></table>")
        else:
            parts.append(f"<p>{escape(doc.empty_text)}</p>")
        if doc.note:
            parts.append(f'<p class="note">{escape(doc.note)}</p>')
        for label in doc.signatures:
            parts.append(f'<p class="sign">{escape(label)} ____________ / ____________ /</p>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(docs: Sequence[TableDocument], fmt: str, out: Path) -> list[Path]:
    """Write ``docs`` to ``out`` in ``fmt`` — always the one file ``out``: several documents (a
    class each) are sheets of the workbook, or sections of the PDF each from a new page.
    Returns the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    private_dir(out.parent)
    if fmt == "xlsx":
        return [write_xlsx(out, *docs)]
    if fmt == "html":
        write_private(out, render_html(docs))
        return [out]
    if not docs:
        raise ValueError("no documents to write")
    write_pdf(out, *docs)
    return [out]
