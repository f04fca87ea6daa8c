"""The documents kit: XLSX layout and print setup, PDF pages rendered and read back."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from core.documents import (
    Column,
    Section,
    TableDocument,
    font_path,
    format_cell,
    pdf_bytes,
    write_pdf,
    write_xlsx,
)

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)

COLUMNS = [
    Column("№", 4, "right"),
    Column("Ученик", 30),
    Column("Дата", 12, "center"),
    Column("Оценка", 8, "center"),
    Column("Вес", 6, "center"),
]


def _doc(lessons: int = 4, students: int = 25) -> TableDocument:
    sections = [
        Section(
            heading=f"7А · Математика · урок {k}",
            rows=[
                [i + 1, f"Сидоров{i:02d} Пётр Ильич", date(2025, 3, 12), "5", 2.0]
                for i in range(students)
            ],
        )
        for k in range(1, lessons + 1)
    ]
    return TableDocument(
        title="Сводная ведомость",
        columns=COLUMNS,
        sections=sections,
        meta=["Школа: МБОУ СОШ № 7", "Учебный год: 2024/2025"],
        note="Примечание: проверено вручную.",
        signatures=["Учитель", "Заместитель директора по УВР"],
        sheet_name="Ведомость 7А",
    )


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def render_page(path: Path, page: int, out_dir: Path) -> Path:
    prefix = out_dir / f"page{page}"
    args = ["-r", "50", "-png", "-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run(["pdftoppm", *args, str(path), str(prefix)], check=True)
    return prefix.with_suffix(".png")


def ink_ratio(png: Path) -> float:
    """Share of pixels that are not near-white."""
    with Image.open(png) as im:
        grey = im.convert("L")
        hist = grey.histogram()
    return sum(hist[:200]) / sum(hist)


def test_fonts_are_package_data() -> None:
    for bold in (False, True):
        path = font_path(bold)
        assert path.is_file()
        assert path.read_bytes()[:4] == b"\x00\x01\x00\x00"  # TrueType
    assert (font_path().parent / "LICENSE").is_file()


def test_format_cell() -> None:
    assert format_cell(date(2025, 1, 9)) == "09.01.2025"
    assert format_cell(1.5) == "1,5"
    assert format_cell(2.0) == "2"
    assert format_cell(None) == ""


def test_rows_must_match_columns() -> None:
    with pytest.raises(ValueError, match="columns"):
        TableDocument(title="t", columns=COLUMNS, sections=[Section(rows=[[1, "x"]])])


def test_xlsx_layout_and_print_setup(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "out" / "v.xlsx", _doc(lessons=2, students=3))
    ws = load_workbook(path)["Ведомость 7А"]
    assert ws["A1"].value == "Сводная ведомость"
    assert ws["A1"].font.bold
    assert ws["A2"].value == "Школа: МБОУ СОШ № 7"
    header = [c.value for c in ws[5]]
    assert header == ["№", "Ученик", "Дата", "Оценка", "Вес"]
    assert all(c.font.bold for c in ws[5])
    assert ws.freeze_panes == "A6"
    assert ws.print_title_rows == "$5:$5"
    assert ws["A6"].value == "7А · Математика · урок 1"
    assert "A6:E6" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["B7"].value == "Сидоров00 Пётр Ильич"
    assert ws["C7"].value.date() == date(2025, 3, 12)
    assert ws["C7"].number_format == "DD.MM.YYYY"
    assert ws.column_dimensions["B"].width == 30
    assert ws.page_setup.paperSize == 9  # A4
    assert ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0
    setup = ws.sheet_properties.pageSetUpPr
    assert setup is not None and setup.fitToPage
    values = [c.value for c in ws["A"]]
    assert any(isinstance(v, str) and v.startswith("Учитель: ____") for v in values)


def test_xlsx_empty_table_says_so(tmp_path: Path) -> None:
    doc = TableDocument(title="Пусто", columns=COLUMNS, sections=[])
    ws = load_workbook(write_xlsx(tmp_path / "e.xlsx", doc)).active
    assert ws is not None
    assert "Записей нет." in [c.value for c in ws["A"]]


@needs_poppler
def test_pdf_pages_render_with_cyrillic_text(tmp_path: Path) -> None:
    path = tmp_path / "v.pdf"
    write_pdf(path, _doc())
    text = pdf_text(path)
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 2, "100 rows must split across pages"
    total = len(pages)
    for n, page in enumerate(pages, start=1):
        assert f"стр. {n} из {total}" in page
        assert "Ученик" in page, "the header row repeats on every page"
    assert "Сводная ведомость" in pages[0]
    assert "Сидоров00 Пётр Ильич" in text
    assert "12.03.2025" in text
    assert "Заместитель директора по УВР" in pages[-1]
    for n in (1, total):
        assert ink_ratio(render_page(path, n, tmp_path)) > 0.005


@needs_poppler
def test_pdf_embeds_only_the_bundled_font(tmp_path: Path) -> None:
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf_bytes(_doc(lessons=1, students=2)))
    fonts = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    names = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert names and all("DejaVuSans" in n for n in names)


@needs_poppler
def test_pdf_of_empty_table_is_one_page(tmp_path: Path) -> None:
    path = tmp_path / "e.pdf"
    write_pdf(path, TableDocument(title="Пустой список", columns=COLUMNS, sections=[]))
    text = pdf_text(path)
    assert "Записей нет." in text
    assert "стр. 1 из 1" in text


def test_narrow_column_titles_shrink_then_hyphenate_never_cut_silently() -> None:
    from reportlab.lib.units import mm

    from core.documents._pdf import _MIN_HEADER_SIZE, _header, pdf_styles

    base = pdf_styles()["header"].fontSize
    wide = _header("Биология", 40 * mm)
    assert wide.style.fontSize == base and wide.text == "Биология"
    shrunk = _header("Литература", 17 * mm)
    assert _MIN_HEADER_SIZE <= shrunk.style.fontSize < base and "-" not in shrunk.text
    broken = _header("Изобразительное искусство", 12 * mm)
    assert broken.style.fontSize == _MIN_HEADER_SIZE
    parts = broken.text.split("-<br/>")
    assert len(parts) > 1 and "".join(parts).replace(" ", "") == "Изобразительноеискусство"
