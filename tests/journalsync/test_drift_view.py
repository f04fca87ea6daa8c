"""``journalsync drift`` in words: ids resolved to pupils, classes, subjects and lessons; every
finding exported (JSON, CSV, XLSX); the terminal pages beyond one screen."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from core.store import Store
from journalsync.cli import app
from tests.core.worklist.test_worklist import (  # noqa: F401  (the store fixture: snapshot + local journal)
    P,
    S,
    store,
)


def _db(st: Store) -> str:
    return str(st.engine.url)


def test_findings_name_pupil_class_subject_and_lesson(store: Store) -> None:  # noqa: F811
    findings = store.findings(S, P, status="open")
    rows = {(r.what, r.student): r for r in store.describe_findings(S, P, findings)}
    assert len(rows) == len(findings) == 7
    mark = rows[("отметка", "Абрамова М. И.")]
    assert (mark.class_name, mark.subject, mark.day, mark.lesson_number) == (
        "7А",
        "Математика",
        date(2025, 3, 12),
        3,
    )
    assert mark.kind == "mismatch" and mark.summary() == "значение: 5 → 4"
    lesson = rows[("урок", "")]
    assert lesson.summary() == "тема урока: Сложение дробей с разными знаменателями → Дроби"
    absent = rows[("посещаемость", "Дмитриев Л.")]
    assert absent.summary() == "нет на платформе; отметка посещаемости Б"
    final = rows[("итоговая отметка", "Жуков П. А.")]
    # a final mark names no lesson: its class comes from the pupil's enrollment
    assert (final.class_name, final.subject, final.period) == ("7А", "Математика", "3 четверть")


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from journalsync._common import console

    monkeypatch.setattr(console, "width", 200)


def _drift(st: Store, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(
        app, ["drift", "--school", S, "--platform", P, "--db", _db(st), *args], terminal_width=200
    )
    return res.exit_code, res.output


def test_cli_shows_words_not_hashes_and_pages(store: Store) -> None:  # noqa: F811
    code, out = _drift(store)
    assert code == 0, out
    assert "Абрамова М. И." in out and "12.03.2025" in out and "значение: 5 → 4" in out
    assert not re.search(r"\b[0-9a-f]{8,}\b", out), "a record hash in the output"
    code, out = _drift(store, "--limit", "3", "--page", "3")
    assert code == 0 and "findings 7–7 of 7 (page 3 of 3" in out
    code, first = _drift(store, "--limit", "3")
    assert "findings 1–3 of 7" in first and "--page 2" in first
    code, out = _drift(store, "--limit", "3", "--page", "4")
    assert code == 2 and "3 page(s)" in out
    code, out = _drift(store, "--limit", "0")
    assert code == 0 and "findings" not in out.split("┘")[-1]  # all seven, no page note
    assert out.count("7А") + out.count("5Б") == 7


def test_cli_exports_every_finding(store: Store, tmp_path: Path) -> None:  # noqa: F811
    code, out = _drift(store, "--format", "json", "--out", str(tmp_path / "d.json"))
    assert code == 0 and "7 findings" in out
    doc = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert len(doc["findings"]) == 7
    mark = next(f for f in doc["findings"] if f["student"] == "Абрамова М. И.")
    assert mark["date"] == "2025-03-12" and mark["lesson_number"] == 3
    assert mark["changes"] == [{"field": "значение", "local": "5", "platform": "4"}]
    _drift(store, "--format", "csv", "--out", str(tmp_path / "d.csv"), "--no-reconcile")
    text = (tmp_path / "d.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines(), delimiter=";"))
    assert rows[0][:3] == ["Ученик", "Класс", "Предмет"] and len(rows) == 8
    _drift(store, "--format", "xlsx", "--out", str(tmp_path / "d.xlsx"), "--no-reconcile")
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx").active
    assert ws is not None
    cells = [c.value for row in ws.iter_rows() for c in row]
    assert "Абрамова М. И." in cells and "Сложение дробей с разными знаменателями" in cells
    code, out = _drift(store, "--format", "csv")
    assert code == 2 and "--out" in out
