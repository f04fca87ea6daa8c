"""Fuzzing the local-journal importer (``core/importer``): whatever the file, ``import_file``
imports (quarantining the rows it cannot place) or raises :class:`ImportFileError` (a
ConfigError: exit code 2, nothing written), never another exception.

Inputs are valid rows of a small sandbox world's snapshot with cells replaced (random text,
huge cells, NULs, quotes, «²»), in random encodings, separators and BOMs, and workbooks written
by openpyxl with cells of random types.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.errors import ConfigError, JournalSyncError
from core.importer import ImportFileError, import_file
from core.importer._read import COLUMNS, read_table
from core.model import Lesson
from core.store import Store
from tests.core.importer.test_importer import PLATFORM, Snap, load, name
from tests.support.fuzz import fuzz

FUZZ_EXAMPLES = 120


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, Snap, list[list[str]]]]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('fuzz-import')}/import.db")
    snap = load(store)
    rows: list[list[str]] = []
    lessons = [r for r in snap.of(Lesson) if isinstance(r, Lesson)][:4]
    for le in lessons:
        where = snap.where(le).split(",")
        pupil = name(snap.pupils(snap.class_of(le))[0])
        rows.append(["mark", *where, pupil, "answer", "5", "", "", ""])
        rows.append(["attendance", *where, pupil, "", "", "Н", "", ""])
        rows.append(["topic", *where, "", "", "", "", "Тема", ""])
        rows.append(["homework", *where, "", "", "", "", "", "№ 1"])
    yield store, snap, rows
    store.close()


_CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", " ", "²", "١٢", "0", "-1", "99999999999", "1" * 5000, "2026-02-30", "31.12.2026",
         "0001-01-01", "4/5", "н/а", "зачёт", "Н", "ОСВ", "x" * 200_000, "\0", '"', '""', "\r\n",
         ";", ",", "\t", "\ufeff", "7Я", "ё", "=1+1", "None"]
    ),
)  # fmt: skip


@st.composite
def journal_rows(draw: st.DrawFn, valid: list[list[str]]) -> list[list[str]]:
    rows = [list(r) for r in draw(st.lists(st.sampled_from(valid), min_size=1, max_size=6))]
    for _ in range(draw(st.integers(0, 6))):
        row = draw(st.sampled_from(rows))
        op = draw(st.sampled_from(["cell", "cell", "drop", "extra"]))
        if op == "cell":
            row[draw(st.integers(0, len(row) - 1))] = draw(_CELLS)
        elif op == "drop" and row:
            del row[draw(st.integers(0, len(row) - 1))]
        else:
            row.append(draw(_CELLS))
    return rows


def _csv_bytes(draw: Any, header: list[str], rows: list[list[str]]) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t"]))
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1251", "koi8_r", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):  # bytes damaged in transit
        pos = draw(st.integers(0, len(data)))
        data = data[:pos] + draw(st.binary(max_size=4)) + data[pos:]
    return data


_HEADERS = st.one_of(
    st.just(list(COLUMNS)),
    st.permutations(list(COLUMNS)),
    st.just(["Вид", "Класс", "Предмет", "Группа", "Дата", "Урок", "ФИО", "Вид работы", "Оценка",
             "Код", "Тема", "ДЗ"]),
    st.lists(st.sampled_from([*COLUMNS, "kind", "", "extra", "дата"]), max_size=14),
)  # fmt: skip


def _import(store: Store, snap: Snap, path: Path) -> None:
    try:
        result = import_file(store, snap.school, PLATFORM, path, actor="fuzz")
    except ImportFileError as exc:
        assert exc.message.startswith(path.name)
        return
    for q in result.quarantine:
        assert q.reason.startswith(q.record)


@fuzz(FUZZ_EXAMPLES)
@given(st.data())
@example(None)
def test_mutated_csv_imports_or_is_an_import_file_error(
    world: tuple[Store, Snap, list[list[str]]], tmp_path_factory: Any, data: st.DataObject | None
) -> None:
    store, snap, valid = world
    path: Path = tmp_path_factory.getbasetemp() / "fuzz.csv"
    if data is None:  # «²» and 5,000 digits passed str.isdigit and failed int(): ValueError
        where = valid[2][1:6]
        rows = [["topic", *where[:4], "²", "", "", "", "", "x", ""],
                ["topic", *where[:2], "1" * 5000, *where[3:], "", "", "", "", "x", ""]]  # fmt: skip
        path.write_text(",".join(COLUMNS) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
        result = import_file(store, snap.school, PLATFORM, path, actor="fuzz")
        assert [q.field for q in result.quarantine] == ["lesson", "subgroup"]
        return
    header = data.draw(_HEADERS, label="header")
    rows = data.draw(journal_rows(valid), label="rows")
    path.write_bytes(_csv_bytes(data.draw, header, rows))
    _import(store, snap, path)


_XLSX_CELLS = st.one_of(
    _CELLS.filter(lambda s: len(s) < 30_000 and "\0" not in s),
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1)),
    st.times(),
)


@fuzz(60)
@given(st.data())
def test_workbooks_with_any_cell_types_import_or_error(
    world: tuple[Store, Snap, list[list[str]]], tmp_path_factory: Any, data: st.DataObject
) -> None:
    store, snap, valid = world
    header = data.draw(_HEADERS, label="header")
    rows: list[list[Any]] = [list(r) for r in data.draw(journal_rows(valid), label="rows")]
    for row in rows:
        for i in range(len(row)):
            if data.draw(st.integers(0, 3)) == 0:
                row[i] = data.draw(_XLSX_CELLS)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append([_excel_safe(c) for c in row])
    path: Path = tmp_path_factory.getbasetemp() / "fuzz.xlsx"
    book.save(path)
    if data.draw(st.booleans(), label="damage"):  # a truncated or overwritten download
        raw = path.read_bytes()
        at = data.draw(st.integers(4, len(raw)))
        path.write_bytes(raw[:at] + data.draw(st.binary(max_size=64)))
    _import(store, snap, path)


def _excel_safe(value: Any) -> Any:
    """openpyxl refuses control characters in strings; a workbook cannot hold them anyway."""
    if isinstance(value, str):
        return "".join(c for c in value if c >= " " or c in "\t\n\r")
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    return value


@fuzz(80)
@given(st.binary(max_size=400))
@example(b"PK\x03\x04")  # a zip header and nothing else: the spreadsheet reader refuses it
@example(b"\xff\xfe" + b"\x00\xd8")  # UTF-16 with a lone surrogate
def test_any_bytes_read_as_a_table_or_an_error(tmp_path_factory: Any, body: bytes) -> None:
    path: Path = tmp_path_factory.getbasetemp() / "bytes.csv"
    path.write_bytes(body)
    try:
        table = read_table(path, "bytes.csv")
        for _ in table.rows:
            pass
    except ImportFileError:
        pass


def test_large_csv_memory_is_bounded(tmp_path: Path) -> None:
    """200,000 cells of 128 KiB would be 25 GB; one cell over the limit ends the read with an
    error naming its row and column, having held one row at a time."""
    import tracemalloc

    path = tmp_path / "big.csv"
    cell = "x" * (128 * 1024 + 1)
    with path.open("w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for _ in range(40):
            f.write(f"topic,7А,Алгебра,,2026-09-08,1,,,,,{'y' * 100_000},\n")
        f.write(f"topic,7А,Алгебра,,2026-09-08,1,,,,,{cell},\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError, match=r"big\.csv, row 42, topic: a cell of"):
            for _ in read_table(path, "big.csv").rows:
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * size, f"peak {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB file"


def test_import_file_error_is_a_config_error() -> None:
    """Exit code 2 comes from the ConfigError branch; the property above relies on the tree."""
    assert issubclass(ImportFileError, ConfigError)
    assert issubclass(ImportFileError, JournalSyncError)
