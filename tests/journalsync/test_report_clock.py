"""Reports print the date of the clock they are given, in the school's zone — never the
machine's own ``date.today()``: a tabel made at 02:00 in Barnaul on 1 January is dated 01.01, though
UTC still says 31 December."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from core.compliance._reports import report_card
from core.connector import Page
from core.model import Person
from core.store import Store
from journalsync.cli import app
from tests.core.compliance.test_compliance_world import SCHOOL, build


def test_the_tabel_is_dated_by_the_given_day() -> None:
    frame = build().frame()
    student = next(n for n in frame.person_names if n.startswith("Алексеев"))
    doc = report_card(frame, student, today=date(2030, 5, 17))
    assert "Дата: 17.05.2030" in doc.meta
    assert f"Дата: {date.today():%d.%m.%Y}" not in doc.meta


def test_the_cli_dates_the_tabel_in_the_schools_zone(tmp_path: Path) -> None:
    w = build()
    db = f"sqlite:///{tmp_path / 'j.db'}"
    with Store.open(db) as st:
        st.commit_page(SCHOOL, "netschool", Page("all", "all", w.records, {}))
    pupil = next(p for p in w.of(Person) if p.last_name == "Алексеев")
    runner = CliRunner()

    def tabel(as_of: str, zone: str) -> str:
        out = tmp_path / f"t-{zone.replace('/', '-')}.html"
        args = ["report", "tabel", "--school", SCHOOL, "--db", db, "--platform", "netschool"]
        args += ["--student", pupil.id, "--format", "html", "--out", str(out)]
        res = runner.invoke(app, [*args, "--as-of", as_of, "--timezone", zone])
        assert res.exit_code == 0, res.output
        return out.read_text(encoding="utf-8")

    # 19:00 UTC on 31 December is 02:00 on 1 January in Barnaul (UTC+7), still the 31st in Moscow
    moment = "2025-12-31T19:00:00+00:00"
    assert "Дата: 01.01.2026" in tabel(moment, "Asia/Barnaul")
    assert "Дата: 31.12.2025" in tabel(moment, "Europe/Moscow")
