"""The reports: numbers right, Russian text, XLSX/HTML readable, PDF pages render with Cyrillic."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import orjson
import pytest
from PIL import Image
from typer.testing import CliRunner

from core.codes import AttendanceCode, MarkValue
from core.compliance import check_frame, get_profile
from core.compliance._render import render_html, write_report
from core.compliance._reports import (
    attendance_summary,
    class_results,
    compliance_report,
    find_period,
    forecast,
    report_card,
    summary_checksum,
    summary_sheet,
    timeliness,
)
from core.connector import Page
from core.model import FinalMark, Homework, Lesson, Mark
from core.store import Store
from tests.core.compliance.test_compliance_world import (
    AS_OF,
    SCHOOL,
    World,
    absent,
    at,
    build,
    prov,
)


def _world() -> World:
    w = build()
    finals = w.of(FinalMark)
    for f, v in zip(finals, ("5", "4", "3", "2"), strict=True):
        w.replace(f, value=MarkValue(v))
    return w


def _pdf_page_png(pdf: Path, tmp_path: Path) -> Path:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    return next(tmp_path.glob("page*.png"))


def _ink(png: Path) -> float:
    img = Image.open(png).convert("L")
    dark = img.point(lambda p: 255 if p < 128 else 0).histogram()[255]
    return dark / (img.width * img.height)


def _pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_class_results_percentages_and_average() -> None:
    frame = _world().frame()
    doc = class_results(frame, find_period(frame, "1"))
    row = next(r for s in doc.sections for r in s.rows if r[0] == "5А")
    # finals 5, 4, 3, 2: three of four pass, two of four on «4»/«5», average 3.5
    assert row[1:6] == [4, 4, 75.0, 50.0, 3.5]


def test_summary_sheet_pdf_renders_cyrillic_with_checksum(tmp_path: Path) -> None:
    frame = _world().frame()
    docs = summary_sheet(frame, "5А")
    assert len(docs) == 1
    doc = docs[0]
    rows = doc.sections[0].rows
    assert [r[1] for r in rows] == ["Алексеев У.", "Борисова У.", "Васильев У.", "Григорьева У."]
    assert [r[2] for r in rows] == ["5 / —", "4 / —", "3 / —", "2 / —"]
    assert doc.extra["checksum"] in doc.note and len(doc.extra["checksum"]) == 64
    assert any("Класс: 5А" in m for m in doc.meta) and "Директор" in doc.signatures
    pdf = tmp_path / "summary.pdf"
    write_report(docs, "pdf", pdf)
    text = _pdf_text(pdf)
    assert "Сводная ведомость итоговых оценок" in text and "Григорьева" in text
    assert doc.extra["checksum"][:16] in text.replace("\n", "")
    png = _pdf_page_png(pdf, tmp_path)
    assert _ink(png) > 0.005  # a page with text on it, not a blank (or tofu-free empty) page
    shutil.copy(png, tmp_path.parent / "compliance-summary-page.png")


def test_summary_checksum_changes_with_the_data() -> None:
    w = _world()
    a = summary_sheet(w.frame(), "5А")[0].extra["checksum"]
    w.replace(w.of(FinalMark)[0], value=MarkValue.FOUR)
    b = summary_sheet(w.frame(), "5А")[0].extra["checksum"]
    assert a != b and summary_checksum({"x": 1}) == summary_checksum({"x": 1})


def test_compliance_report_pdf_xlsx_html(tmp_path: Path) -> None:
    w = _world()
    le = w.lessons("5А")
    w.replace(le[0], topic="")
    result = w.check("gymn2-krasnoyarsk")
    doc = compliance_report([result])
    headings = [s.heading for s in doc.sections]
    assert any(h.startswith("Темы уроков записываются") and "найдено: 1" in h for h in headings)
    assert headings[-1] == "Не проверено или проверено частично"  # no curriculum, no history
    pdf, xlsx, html = tmp_path / "c.pdf", tmp_path / "c.xlsx", tmp_path / "c.html"
    write_report([doc], "pdf", pdf)
    write_report([doc], "xlsx", xlsx)
    write_report([doc], "html", html)
    assert "тема урока не записана" in _pdf_text(pdf)
    png = _pdf_page_png(pdf, tmp_path)
    assert _ink(png) > 0.005
    shutil.copy(png, tmp_path.parent / "compliance-report-page.png")
    cells = {c.value for row in openpyxl.load_workbook(xlsx).active.iter_rows() for c in row}
    assert "тема урока не записана" in cells
    assert "учебный план" in html.read_text(encoding="utf-8")


def test_municipal_compliance_report_names_each_school() -> None:
    w = _world()
    r1 = w.check("all")
    doc = compliance_report([r1, r1])
    assert doc.columns[0].title == "Школа" and any("Школ: 2" in m for m in doc.meta)


def test_report_card_and_attendance() -> None:
    w = _world()
    st = w.students("5А")[0]
    le = w.lessons("5А")
    absent(w, st, le[0], AttendanceCode.ILL)
    absent(w, st, le[1], AttendanceCode.ABSENT)
    absent(w, st, le[2], AttendanceCode.LATE)
    frame = w.frame()
    card = report_card(frame, "Алексеев У.", today=date(2025, 11, 10))
    assert card.sections[0].rows[0] == ["Математика", "5", "", 5.0, 2]
    assert "Дата: 10.11.2025" in card.meta
    att = attendance_summary(frame, find_period(frame, "1"))
    row = next(r for s in att.sections for r in s.rows if r[1] == "Алексеев У.")
    assert row[2:] == [16, 2, 1, 0, 1, 1, 12.5]


def test_forecast_uses_work_type_weights() -> None:
    w = _world()
    st = w.students("5А")[0]
    marks = w.marks_of(st)
    w.drop(lambda r: r in marks[2:])
    w.replace(marks[0], value=MarkValue.THREE, weight=2.0)  # a test: weight 2
    w.replace(marks[1], value=MarkValue.FIVE, weight=1.0)
    frame = w.frame()
    doc = forecast(frame, find_period(frame, "1"))[0]
    row = next(r for r in doc.sections[0].rows if r[1] == "Алексеев У.")
    assert row[2] == "3,67 → 4"  # (3·2 + 5·1) / 3


def test_timeliness_counts_per_teacher() -> None:
    w = _world()
    for le in w.lessons("5А")[:2]:
        w.replace(le, provenance=prov(at(le.date, "16:00")))
    frame = w.frame()
    result = check_frame(frame, get_profile("gymn2-krasnoyarsk"), as_of=AS_OF)
    doc = timeliness(frame, result)
    assert doc.sections[0].rows == [["Петрова А. И.", 32, 2, 93.8, 0, 0, 0]]


def test_html_escapes_and_keeps_russian() -> None:
    frame = _world().frame()
    html = render_html(summary_sheet(frame, "5А"))
    assert html.startswith("<!doctype html>") and 'lang="ru"' in html
    assert "&lt;" not in html and "Сводная ведомость" in html and "МБОУ «Школа № 1»" in html


def test_cli_report_from_the_store(tmp_path: Path) -> None:
    from journalsync.cli import app

    w = _world()
    db = tmp_path / "j.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.commit_page(
            SCHOOL, "test", Page(stream="all", scope="all", records=w.records, cursor={})
        )
    runner = CliRunner()
    out = tmp_path / "r.xlsx"
    res = runner.invoke(
        app,
        [
            "report",
            "results",
            "--school",
            SCHOOL,
            "--platform",
            "test",
            "--period",
            "1",
            "--db",
            f"sqlite:///{db}",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    cells = [c.value for row in openpyxl.load_workbook(out).active.iter_rows() for c in row]
    assert 75 in cells or 75.0 in cells
    res = runner.invoke(
        app,
        [
            "report",
            "compliance",
            "--school",
            SCHOOL,
            "--platform",
            "test",
            "--profile",
            "gymn2-krasnoyarsk",
            "--format",
            "pdf",
            "--as-of",
            AS_OF.isoformat(),
            "--db",
            f"sqlite:///{db}",
            "--out",
            str(tmp_path / "c.pdf"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Отчёт о соблюдении" in _pdf_text(tmp_path / "c.pdf")
    res = runner.invoke(
        app,
        ["report", "results", "--school", SCHOOL, "--db", f"sqlite:///{db}", "--platform", "test"],
    )
    assert res.exit_code == 2 and "--period" in res.output


def test_unknown_period_is_a_clear_error() -> None:
    from core.errors import ConfigError

    frame = _world().frame()
    with pytest.raises(ConfigError, match="1 четверть"):
        find_period(frame, "7")
    assert date(2025, 9, 1) and Lesson and Homework and Mark


def test_frame_from_store_equals_records_on_each_backend(store: Store) -> None:
    """The store path (SQL extraction, SQLite and PostgreSQL) finds what the records path finds,
    and reads reason corrections from the remote change log."""
    from datetime import timedelta

    from core.model import Attendance

    remote_changes = store.tables["remote_changes"]

    w = _world()
    le = w.lessons("5А")
    w.replace(le[0], topic="")
    a = absent(w, w.students("5А")[0], le[9], AttendanceCode.ILL)
    store.commit_page(SCHOOL, "test", Page(stream="all", scope="all", records=w.records, cursor={}))
    with store.engine.begin() as conn:
        conn.execute(
            remote_changes.insert(),
            [
                {
                    "platform": "test",
                    "school": SCHOOL,
                    "entity": "attendance",
                    "record_id": a.id,
                    "at": at(le[9].date + timedelta(days=9)),
                    "kind": "updated",
                    "before": orjson.dumps({**a.data(), "code": "absent"}).decode(),
                    "after": orjson.dumps(a.data()).decode(),
                }
            ],
        )
    from core.compliance import frame_from_records, frame_from_store

    profile = get_profile("all")
    from_store = check_frame(frame_from_store(store, SCHOOL, "test"), profile, as_of=AS_OF)
    from_records = check_frame(
        frame_from_records(SCHOOL, store.remote_records(SCHOOL, "test")), profile, as_of=AS_OF
    )
    keys = {f.key() for f in from_records.findings}
    assert {f.key() for f in from_store.findings} - keys == {
        f.key() for f in from_store.findings if f.rule == "attendance.reason_fix"
    }
    assert any(f.rule == "lessons.topic_deadline" for f in from_store.findings)
    assert len(from_store.by_rule()["attendance.reason_fix"]) == 1
    assert Attendance
