"""Printable PDF on reportlab: A4, the bundled DejaVu font, a title, a table that splits across
pages with its header row repeated, «стр. N из M» on every page, and signature lines."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.documents._fonts import register_fonts
from core.documents._table import TableDocument, format_cell
from core.files import write_private

__all__ = ["build_pdf", "pdf_bytes", "pdf_styles", "signature_block", "write_pdf"]

_MARGIN = 15 * mm
_ALIGN: dict[str, Literal[0, 1, 2]] = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}


def pdf_styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles in the bundled font: title, meta, header, cell, section, note."""
    regular, bold = register_fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=14, leading=18, spaceAfter=4),
        "meta": ParagraphStyle("meta", fontName=regular, fontSize=9, leading=12),
        "header": ParagraphStyle(
            "header", fontName=bold, fontSize=8, leading=10, alignment=TA_CENTER
        ),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=8, leading=10),
        "section": ParagraphStyle("section", fontName=bold, fontSize=8.5, leading=11),
        "note": ParagraphStyle("note", fontName=regular, fontSize=8, leading=10),
    }


def _canvas_class(footer_left: str) -> type[Canvas]:
    """A canvas that holds pages back until the end so each can say «стр. N из M»."""
    regular, _ = register_fonts()

    class _NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # so the PDF names no unembedded base-14 font (print shops flag those)
            kwargs["initialFontName"] = kwargs.get("initialFontName") or regular
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                width = float(self._pagesize[0])  # type: ignore[attr-defined]
                self.setFont(regular, 7.5)
                self.setFillColor(colors.grey)
                self.drawString(_MARGIN, 8 * mm, footer_left[:120])
                self.drawRightString(width - _MARGIN, 8 * mm, f"стр. {number} из {total}")
                super().showPage()
            super().save()

    return _NumberedCanvas


def build_pdf(
    target: str | Path | io.BytesIO,
    flowables: Sequence[Flowable],
    *,
    title: str,
    landscape_pages: bool = False,
    author: str = "journalsync",
) -> None:
    """Lay out ``flowables`` on A4 pages with the footer (title, «стр. N из M»)."""
    register_fonts()
    pagesize = landscape(A4) if landscape_pages else A4
    if isinstance(target, str | Path):
        # Rendered in memory and written owner-only (reportlab would create it with the umask).
        buf = io.BytesIO()
        build_pdf(
            buf,
            flowables,
            title=title,
            landscape_pages=landscape_pages,
            author=author,
        )
        write_private(target, buf.getvalue())
        return
    doc = SimpleDocTemplate(
        target,
        pagesize=pagesize,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=title,
        author=author,
    )
    canvasmaker: Callable[..., Canvas] = _canvas_class(title)
    doc.build(list(flowables), canvasmaker=canvasmaker)


def signature_block(labels: Sequence[str]) -> Flowable:
    """Signature lines: «Label  ____________ / ____________ /   «__» ________ 20__ г.»"""
    styles = pdf_styles()
    rows = [
        [
            Paragraph(escape(label), styles["meta"]),
            "_" * 22,
            "/ " + "_" * 22 + " /",
            "«___» __________ 20___ г.",
        ]
        for label in labels
    ]
    table = Table(rows, colWidths=[60 * mm, 32 * mm, 45 * mm, 40 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), styles["meta"].fontName),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("TOPPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    return KeepTogether([Spacer(1, 8 * mm), table])


#: Cell padding left plus right (the table style below), and the smallest header font.
_PADDING = 6
_MIN_HEADER_SIZE = 5.5


def _header(title: str, width: float) -> Paragraph:
    """A column title: its font made smaller where its longest word would not fit the column,
    and a word still too long at the smallest size broken with a hyphen — never cut silently
    («Обществознан ие»)."""
    base = pdf_styles()["header"]
    room = width - _PADDING

    def wide(word: str, size: float) -> float:
        return float(stringWidth(word, base.fontName, size))

    longest = max((wide(w, base.fontSize) for w in title.split()), default=0.0)
    style = base
    if longest > room:
        size = max(_MIN_HEADER_SIZE, base.fontSize * room / longest)
        style = ParagraphStyle(f"header{size:.2f}", parent=base, fontSize=size, leading=size * 1.2)
    words: list[str] = []
    for word in title.split():
        while wide(word, style.fontSize) > room and len(word) > 3:
            cut = max(
                2,
                next(
                    k
                    for k in range(len(word), 0, -1)
                    if wide(word[:k] + "-", style.fontSize) <= room
                ),
            )
            words.append(escape(word[:cut]) + "-<br/>")
            word = word[cut:]
        words.append(escape(word) + " ")
    return Paragraph("".join(words).strip(), style)


def _table(doc: TableDocument, avail_width: float) -> Flowable:
    styles = pdf_styles()
    total = sum(c.width for c in doc.columns)
    widths = [avail_width * c.width / total for c in doc.columns]
    cell_styles = [
        ParagraphStyle(f"cell{i}", parent=styles["cell"], alignment=_ALIGN[c.align])
        for i, c in enumerate(doc.columns)
    ]
    data: list[list[Any]] = [
        [_header(c.title, w) for c, w in zip(doc.columns, widths, strict=True)]
    ]
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), styles["cell"].fontName),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9E1F2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    for section in doc.sections:
        if section.heading:
            r = len(data)
            data.append(
                [Paragraph(escape(section.heading), styles["section"])]
                + [""] * (len(doc.columns) - 1)
            )
            commands.append(("SPAN", (0, r), (-1, r)))
            commands.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F2F2F2")))
        for values in section.rows:
            data.append(
                [Paragraph(escape(format_cell(v)), cell_styles[i]) for i, v in enumerate(values)]
            )
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def _story(doc: TableDocument, avail_width: float) -> list[Flowable]:
    styles = pdf_styles()
    story: list[Flowable] = [Paragraph(escape(doc.title), styles["title"])]
    story += [Paragraph(escape(line), styles["meta"]) for line in doc.meta]
    story.append(Spacer(1, 4 * mm))
    if doc.row_count:
        story.append(_table(doc, avail_width))
    else:
        story.append(Paragraph(escape(doc.empty_text), styles["meta"]))
    if doc.note:
        story += [Spacer(1, 3 * mm), Paragraph(escape(doc.note), styles["note"])]
    if doc.signatures:
        story.append(signature_block(doc.signatures))
    return story


def write_pdf(path: str | Path | io.BytesIO, doc: TableDocument) -> None:
    """Render ``doc`` as a printable A4 PDF to ``path`` (or a bytes buffer)."""
    page_width = (landscape(A4) if doc.landscape else A4)[0]
    build_pdf(
        path,
        _story(doc, page_width - 2 * _MARGIN),
        title=doc.title,
        landscape_pages=doc.landscape,
        author=doc.extra.get("author", "journalsync"),
    )


def pdf_bytes(doc: TableDocument) -> bytes:
    """``doc`` as PDF bytes."""
    buf = io.BytesIO()
    write_pdf(buf, doc)
    return buf.getvalue()
