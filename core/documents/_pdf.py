"""Printable PDF on reportlab: A4, the bundled DejaVu font, a title, a table that splits across
pages with its header row repeated, «стр. N из M» on every page, and signature lines.

Several documents in one file (a class each) each start a new page; pages are numbered over the
whole file, and each page after a document's first carries a running head at the top — the
document's title and its ``running_head`` («Класс: 5А») with «(продолжение)». A table of headed
sections (a class each) is laid out a table per section whose heading row repeats under the
header row on every page the section continues on."""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import pyphen
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
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from core.documents._fonts import register_fonts
from core.documents._table import TableDocument, format_cell
from core.files import write_private

__all__ = [
    "build_pdf",
    "fit_widths",
    "pdf_bytes",
    "pdf_styles",
    "signature_block",
    "write_pdf",
]

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


class _DocumentStart(Flowable):
    """Zero-size mark at the start of a document's first page: tells the canvas the running head
    of the pages that follow (until the next mark)."""

    def __init__(self, head: str) -> None:
        super().__init__()
        self.head = head

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0.0, 0.0

    def draw(self) -> None:
        self.canv._running_head = self.head  # type: ignore[attr-defined]
        self.canv._document_starts_here = True  # type: ignore[attr-defined]


def _canvas_class(footer_left: str) -> type[Canvas]:
    """A canvas that holds pages back until the end so each can say «стр. N из M» (over the
    whole file) and, on a document's later pages, carry its running head."""
    regular, bold = register_fonts()

    class _NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # so the PDF names no unembedded base-14 font (print shops flag those)
            kwargs["initialFontName"] = kwargs.get("initialFontName") or regular
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []
            self._running_head = ""
            self._document_starts_here = False

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._document_starts_here = False
            self._startPage()  # type: ignore[attr-defined]

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                width, height = (float(x) for x in self._pagesize)  # type: ignore[attr-defined]
                if state["_running_head"] and not state["_document_starts_here"]:
                    self.setFont(bold, 8.5)
                    self.setFillColor(colors.black)
                    head = f"{state['_running_head']} (продолжение)"
                    self.drawString(_MARGIN, height - _MARGIN + 3 * mm, head[:160])
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
    return KeepTogether(_signature_lines(labels))


def _signature_lines(labels: Sequence[str]) -> list[Flowable]:
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
    return [Spacer(1, 8 * mm), table]


#: Cell padding left plus right (the table style below), a little slack for reportlab's own
#: rounding, and the smallest header font.
_PADDING = 6
_SLACK = 1.5
_MIN_HEADER_SIZE = 5.5
#: Data rows kept on the page of the signature lines (so they never stand alone).
_TAIL_ROWS = 2


@functools.cache
def _hyphenator() -> pyphen.Pyphen:
    # Russian rules (the TeX patterns pyphen ships): no single letter left or carried over
    return pyphen.Pyphen(lang="ru_RU", left=2, right=2)


def _wide(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


def _pieces(word: str, font: str, size: float, room: float) -> list[str] | None:
    """``word`` cut at legal hyphenation points into pieces that each fit ``room`` (all but the
    last with a hyphen), as few as possible; ``None`` where no legal cut makes it fit."""
    if _wide(word, font, size) <= room:
        return [word]
    points = list(_hyphenator().positions(word))
    pieces: list[str] = []
    start = 0
    while _wide(word[start:], font, size) > room:
        fits = [p for p in points if p > start and _wide(word[start:p] + "-", font, size) <= room]
        if not fits:
            return None
        pieces.append(word[start : fits[-1]] + "-")
        start = fits[-1]
    return [*pieces, word[start:]]


def _need(title: str, font: str) -> float:
    """The narrowest column (content width) in which ``title`` prints at the smallest size with
    every word whole or hyphenated at a legal point."""
    need = 0.0
    for word in title.split():
        points = [0, *_hyphenator().positions(word), len(word)]
        # the widest piece when cut at every legal point is the floor
        need = max(
            need,
            max(
                _wide(word[a:b] + ("-" if b < len(word) else ""), font, _MIN_HEADER_SIZE)
                for a, b in itertools.pairwise(points)
            ),
        )
    return need


def fit_widths(titles: Sequence[str], widths: Sequence[float]) -> list[float]:
    """Column widths widened where a header could not print without breaking a word against
    the rules, the room taken from the columns that have it to spare (same total)."""
    font = pdf_styles()["header"].fontName
    need = [_need(t, font) + _PADDING + _SLACK for t in titles]
    out = list(widths)
    short = sum(max(0.0, n - w) for n, w in zip(need, out, strict=True))
    if short <= 0:
        return out
    spare = [max(0.0, w - n) for n, w in zip(need, out, strict=True)]
    total_spare = sum(spare)
    if total_spare <= 0:
        return out
    take = min(1.0, short / total_spare)
    return [max(w, n) if n > w else w - s * take for n, w, s in zip(need, out, spare, strict=True)]


def _header(title: str, width: float) -> Paragraph:
    """A column title that fits its column: the font made smaller where a word would not fit,
    and a word still too long broken at a legal Russian hyphenation point with a hyphen —
    never mid-syllable, never cut silently («Обществознан ие»)."""
    base = pdf_styles()["header"]
    room = width - _PADDING - _SLACK
    font = base.fontName
    words = title.split()
    size = base.fontSize
    while size > _MIN_HEADER_SIZE and any(_wide(w, font, size) > room for w in words):
        size = max(_MIN_HEADER_SIZE, size - 0.25)
    style = base
    if size != base.fontSize:
        style = ParagraphStyle(f"header{size:.2f}", parent=base, fontSize=size, leading=size * 1.2)
    parts: list[str] = []
    for word in words:
        pieces = _pieces(word, font, size, room) or [word]
        parts.append("<br/>".join(escape(p) for p in pieces))
    return Paragraph(" ".join(parts), style)


def _cell_markup(text: str, style: ParagraphStyle, width: float) -> str:
    """Cell text as markup, a word too long for its column broken at a legal hyphenation point
    («Посеща-емость», not «Посещаемост ь»)."""
    room = width - _PADDING - _SLACK
    if all(_wide(w, style.fontName, style.fontSize) <= room for w in text.split()):
        return escape(text)
    out: list[str] = []
    for line in text.split("\n"):
        words = []
        for word in line.split(" "):
            pieces = _pieces(word, style.fontName, style.fontSize, room) or [word]
            words.append("<br/>".join(escape(p) for p in pieces))
        out.append(" ".join(words))
    return "<br/>".join(out)


def _table(
    doc: TableDocument, avail_width: float, tail: Sequence[Flowable | list[Flowable]] = ()
) -> list[Flowable]:
    """The table; ``tail`` (note, signature lines) goes in spanning rows under the last data
    rows, kept with them on one page («NOSPLIT») so a signature never stands alone.

    Headed sections (a class each) are a table each, its header row and heading row repeated on
    every page the section runs on; the tables stand flush, so they read as one."""
    styles = pdf_styles()
    total = sum(c.width for c in doc.columns)
    widths = fit_widths(
        [c.title for c in doc.columns], [avail_width * c.width / total for c in doc.columns]
    )
    cell_styles = [
        ParagraphStyle(f"cell{i}", parent=styles["cell"], alignment=_ALIGN[c.align])
        for i, c in enumerate(doc.columns)
    ]
    header = [_header(c.title, w) for c, w in zip(doc.columns, widths, strict=True)]
    base: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), styles["cell"].fontName),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9E1F2")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    # runs of sections: a headed section starts a run of its own; unheaded ones join the run
    runs: list[list[Any]] = []
    for section in doc.sections:
        if section.heading or not runs:
            runs.append([section])
        else:
            runs[-1].append(section)
    tables: list[Flowable] = []
    for n, run in enumerate(runs):
        last_run = n == len(runs) - 1
        data: list[list[Any]] = [list(header)]
        commands = list(base)
        repeat = 1
        for section in run:
            if section.heading:
                r = len(data)
                data.append(
                    [Paragraph(escape(section.heading), styles["section"])]
                    + [""] * (len(doc.columns) - 1)
                )
                commands.append(("SPAN", (0, r), (-1, r)))
                commands.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F2F2F2")))
                if r == 1:
                    repeat = 2  # the run's own heading repeats with the header row
            for values in section.rows:
                data.append(
                    [
                        Paragraph(_cell_markup(format_cell(v), cell_styles[i], w), cell_styles[i])
                        for i, (v, w) in enumerate(zip(values, widths, strict=True))
                    ]
                )
        last = len(data) - 1
        commands.append(("GRID", (0, 0), (-1, last), 0.4, colors.grey))
        if last_run:
            for flowable in tail:
                r = len(data)
                data.append([flowable] + [""] * (len(doc.columns) - 1))
                commands.append(("SPAN", (0, r), (-1, r)))
                commands.append(("LEFTPADDING", (0, r), (-1, r), 0))
            if tail:
                start = max(repeat, last - _TAIL_ROWS + 1)
                commands.append(("NOSPLIT", (0, start), (-1, len(data) - 1)))
        table = Table(data, colWidths=widths, repeatRows=repeat, hAlign="LEFT")
        table.setStyle(TableStyle(commands))
        tables.append(table)
    return tables


def _story(doc: TableDocument, avail_width: float) -> list[Flowable]:
    styles = pdf_styles()
    head = f"{doc.title} — {doc.running_head}" if doc.running_head else doc.title
    story: list[Flowable] = [_DocumentStart(head), Paragraph(escape(doc.title), styles["title"])]
    story += [Paragraph(escape(line), styles["meta"]) for line in doc.meta]
    story.append(Spacer(1, 4 * mm))
    tail: list[Flowable | list[Flowable]] = []
    if doc.note:
        tail.append(Paragraph(escape(doc.note), styles["note"]))
    if doc.signatures:
        tail.append(_signature_lines(doc.signatures))
    if doc.row_count:
        story += _table(doc, avail_width, tail)
    else:
        story.append(Paragraph(escape(doc.empty_text), styles["meta"]))
        story.append(KeepTogether([f for t in tail for f in (t if isinstance(t, list) else [t])]))
    return story


def write_pdf(path: str | Path | io.BytesIO, doc: TableDocument, *more: TableDocument) -> None:
    """Render ``doc`` (and ``more`` documents, each from a new page — a class per page) as one
    printable A4 PDF at ``path`` (or a bytes buffer)."""
    docs = (doc, *more)
    wide = any(d.landscape for d in docs)
    page_width = (landscape(A4) if wide else A4)[0]
    story: list[Flowable] = []
    for i, d in enumerate(docs):
        if i:
            story.append(PageBreak())
        story += _story(d, page_width - 2 * _MARGIN)
    build_pdf(
        path,
        story,
        title=doc.title,
        landscape_pages=wide,
        author=doc.extra.get("author", "journalsync"),
    )


def pdf_bytes(doc: TableDocument) -> bytes:
    """``doc`` as PDF bytes."""
    buf = io.BytesIO()
    write_pdf(buf, doc)
    return buf.getvalue()
