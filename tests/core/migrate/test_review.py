"""The review file: written in Russian (XLSX with a drop-down «Решение», CSV), edited by the
operator, read back into decisions and applied; bad files name file, row and column."""

from __future__ import annotations

import csv
import io
import stat
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from core.codes import Role
from core.migrate import (
    REVIEW_COLUMNS,
    Decision,
    ReviewError,
    match_identities,
    read_review,
    write_review,
)
from core.model import AcademicYear, ClassUnit, Enrollment, Person, Record

YEAR = AcademicYear(school="s", start_year=2026, start=date(2026, 9, 1), end=date(2027, 5, 31))
A = ClassUnit(school="s", year_id=YEAR.id, grade=5, letter="А")
B = ClassUnit(school="s", year_id=YEAR.id, grade=6, letter="Б")


def _pupil(platform: str, n: int, name: str, unit: ClassUnit, birth: date | None) -> list[Record]:
    last, first, middle = name.split()
    p = Person(
        school="s",
        key=f"{platform}:{n}",
        last_name=last,
        first_name=first,
        middle_name=middle,
        birth_date=birth,
        roles=(Role.STUDENT,),
    )
    return [p, Enrollment(school="s", student_id=p.id, class_id=unit.id, begin=YEAR.start)]


def _sides() -> tuple[list[Record], list[Record]]:
    source: list[Record] = [YEAR, A, B]
    source += _pupil("netschool", 1, "Петров Пётр Петрович", A, None)  # two namesakes in 5А
    source += _pupil("netschool", 2, "Сидоров Олег Ильич", A, None)  # only by name (6Б there)
    source += _pupil("netschool", 3, "Кузнецова Ольга Ивановна", A, None)  # surname changed
    source += _pupil("netschool", 4, "Орлов Иван Ильич", B, None)  # left: no pair
    source += _pupil("netschool", 5, "Белова Анна Сергеевна", B, None)  # a clear match
    target: list[Record] = [YEAR, A, B]
    target += _pupil("perm", 11, "Петров Петр Петрович", A, date(2014, 1, 2))
    target += _pupil("perm", 12, "Петров Петр Петрович", A, date(2014, 7, 8))
    target += _pupil("perm", 13, "Сидоров Олег Ильич", B, date(2013, 3, 4))
    target += _pupil("perm", 14, "Смирнова Ольга Ивановна", A, date(2014, 5, 6))
    target += _pupil("perm", 15, "Белова Анна Сергеевна", B, date(2013, 9, 9))
    return source, target


def _ids(records: list[Record]) -> dict[str, str]:
    return {f"{r.last_name} {r.key}": r.id for r in records if isinstance(r, Person)}


def test_written_in_russian_owner_only_with_a_drop_down(tmp_path: Path) -> None:
    source, target = _sides()
    ms = match_identities(source, target)
    xlsx, csv_path = write_review(ms, source, target, tmp_path / "review")
    for p in (xlsx, csv_path):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    ws = load_workbook(xlsx).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header_at = next(i for i, r in enumerate(rows) if r[0] == "№")
    assert tuple(rows[header_at]) == REVIEW_COLUMNS
    body = rows[header_at + 1 :]
    # ambiguous (Петров), weak (Сидоров by name alone), unmatched ×2; Белова is settled
    assert [r[2] for r in body] == [
        "Кузнецова Ольга Ивановна",
        "Петров Пётр Петрович",
        "Сидоров Олег Ильич",
        "Орлов Иван Ильич",
    ]
    petrov = body[1]
    assert petrov[1] == "Ученик" and petrov[3] == "5А" and petrov[5] == "несколько кандидатов"
    assert petrov[6] == (
        "1) Петров Петр Петрович, 5А, 02.01.2014; 2) Петров Петр Петрович, 5А, 08.07.2014"
    )
    assert petrov[7] == "ФИО и класс" and petrov[8] == "95 %"
    sidorov = body[2]
    assert sidorov[5] == "проверить" and sidorov[7] == "только ФИО" and sidorov[8] == "60 %"
    # A person without a pair is offered the unpaired namesakes by first name and class.
    assert body[0][6] == "1) Смирнова Ольга Ивановна, 5А, 06.05.2014"
    assert body[3][6] == "—" and body[3][7] == "—"
    assert ws.column_dimensions["K"].hidden  # the row code
    (dv,) = ws.data_validations.dataValidation
    assert "выбрать 1" in dv.formula1 and "отклонить" in dv.formula1
    assert str(dv.sqref) == f"J{header_at + 2}:J{header_at + 5}"
    text = csv_path.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";"))
    assert tuple(lines[0]) == REVIEW_COLUMNS and len(lines) == 5
    # Nothing for the school's eyes holds an id but the row code.
    visible = [r[:-1] for r in body]
    for rid in _ids(target).values():
        assert all(rid not in str(v) for r in visible for v in r)


def _edit_xlsx(path: Path, decisions: dict[str, str]) -> None:
    wb = load_workbook(path)
    ws = wb.worksheets[0]
    for row in ws.iter_rows():
        if row[2].value in decisions:
            row[9].value = decisions[row[2].value]
    wb.save(path)


def test_edited_xlsx_read_back_and_applied(tmp_path: Path) -> None:
    source, target = _sides()
    ms = match_identities(source, target)
    xlsx, _csv = write_review(ms, source, target, tmp_path)
    _edit_xlsx(
        xlsx,
        {
            "Петров Пётр Петрович": "Выбрать 2",
            "Сидоров Олег Ильич": "принять",
            "Кузнецова Ольга Ивановна": "выбрать 1",
            "Орлов Иван Ильич": "отклонить",
        },
    )
    decisions = read_review(xlsx)
    ids = _ids(target)
    src = {r.last_name: r.id for r in source if isinstance(r, Person)}
    assert decisions == {
        ("person", src["Петров"]): Decision("choose", ids["Петров perm:12"]),
        ("person", src["Сидоров"]): Decision("accept", ids["Сидоров perm:13"]),
        ("person", src["Кузнецова"]): Decision("choose", ids["Смирнова perm:14"]),
        ("person", src["Орлов"]): Decision("reject"),
    }
    applied = match_identities(source, target, decisions=decisions, previous=ms)
    assert not applied.pending()
    assert applied.id_map()[src["Петров"]] == ids["Петров perm:12"]
    assert applied.id_map()[src["Кузнецова"]] == ids["Смирнова perm:14"]
    assert applied.counts()["person"] == {"matched": 4, "rejected": 1}
    # Decided rows leave the next review; nothing is left to decide.
    xlsx2, _ = write_review(applied, source, target, tmp_path / "again")
    ws = load_workbook(xlsx2).worksheets[0]
    assert not [r for r in ws.iter_rows(values_only=True) if r[1] == "Ученик"]


def test_edited_csv_read_back_with_an_empty_decision_left_pending(tmp_path: Path) -> None:
    source, target = _sides()
    ms = match_identities(source, target)
    _x, path = write_review(ms, source, target, tmp_path)
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8-sig")), delimiter=";"))
    for row in rows[1:]:
        if row[2] == "Петров Пётр Петрович":
            row[9] = "выбрать 1"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";").writerows(rows)
    path.write_text(buf.getvalue(), encoding="cp1251")  # Excel saved it in Windows-1251
    decisions = read_review(path)
    assert len(decisions) == 1
    applied = match_identities(source, target, decisions=decisions)
    # Nothing ambiguous or unpaired is applied without a decision.
    assert {m.state for m in applied.pending()} == {"unmatched"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Петров Пётр Петрович", "выбрать 3", "choose a candidate from 1 to 2"),
        ("Петров Пётр Петрович", "принять", "needs one proposed pair; this row has 2"),
        ("Орлов Иван Ильич", "выбрать 1", "no candidates to choose from"),
        ("Сидоров Олег Ильич", "да", "is not a decision"),
    ],
)
def test_a_bad_decision_names_file_row_and_column(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    source, target = _sides()
    xlsx, _csv = write_review(match_identities(source, target), source, target, tmp_path)
    _edit_xlsx(xlsx, {name: value})
    row = next(
        n
        for n, r in enumerate(load_workbook(xlsx).worksheets[0].iter_rows(values_only=True), 1)
        if r[2] == name
    )
    with pytest.raises(ReviewError) as info:
        read_review(xlsx)
    assert info.value.message.startswith(f"{xlsx.name}: row {row}, column «Решение»: ")
    assert message in info.value.message


def test_bad_files_are_named(tmp_path: Path) -> None:
    source, target = _sides()
    _xlsx, path = write_review(match_identities(source, target), source, target, tmp_path)
    text = path.read_text("utf-8-sig").replace("person|", "persn|", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReviewError, match=r"\.csv: row 2, column «Код строки \(не изменять\)»"):
        read_review(path)
    other = tmp_path / "other.csv"
    other.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(ReviewError, match="no header row with «Решение»"):
        read_review(other)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ReviewError, match=r"broken\.xlsx: not a readable XLSX file"):
        read_review(broken)
    with pytest.raises(ReviewError, match=r"is \.xlsx or \.csv"):
        read_review(tmp_path / "x.txt")
