"""Reading a local journal file into rows of named cells: CSV or a spreadsheet, as Excel saves it.

What Russian Excel produces: «CSV (разделители — запятые)» is cp1251 with ``;`` separators,
«CSV UTF-8» has a BOM, «Текст Юникод» is UTF-16 with tabs, and a workbook is XLSX (or XLS).
The text encoding is UTF-8 when the bytes decode as UTF-8 (with or without BOM), else what
``charset-normalizer`` finds among the Cyrillic code pages; the separator is the one that splits
the header line into the most known column names. A file that cannot be read as a table with a
known header is one :class:`ImportFileError` naming the file (and the row and column where there
is one) — never a row-by-row quarantine of a file that was not a journal at all.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from charset_normalizer import from_bytes

from core.errors import ConfigError

__all__ = [
    "COLUMNS",
    "JOURNAL",
    "MAX_FIELD",
    "REQUIRED",
    "ImportFileError",
    "Table",
    "TableKind",
    "parse_date",
    "parse_number",
    "read_table",
]

#: The columns, in the order the README gives them.
COLUMNS = (
    "kind",
    "class",
    "subject",
    "subgroup",
    "date",
    "lesson",
    "student",
    "work_type",
    "value",
    "code",
    "topic",
    "text",
)
#: Without these no row can be placed on a lesson: a header lacking one is not a journal's.
REQUIRED = ("kind", "class", "subject", "date", "lesson")
#: A cell longer than this is not a journal entry (csv's own default limit, 128 KiB).
MAX_FIELD = 128 * 1024

#: Header names as a Russian journal keeper may write them (lower case, «ё» as «е»).
_ALIASES = {
    **{c: c for c in COLUMNS},
    "вид записи": "kind",
    "вид": "kind",
    "тип": "kind",
    "запись": "kind",
    "класс": "class",
    "предмет": "subject",
    "подгруппа": "subgroup",
    "группа": "subgroup",
    "дата": "date",
    "урок": "lesson",
    "номер урока": "lesson",
    "№ урока": "lesson",
    "ученик": "student",
    "учащийся": "student",
    "фио": "student",
    "work type": "work_type",
    "вид работы": "work_type",
    "тип работы": "work_type",
    "оценка": "value",
    "отметка": "value",
    "код": "code",
    "посещаемость": "code",
    "тема": "topic",
    "тема урока": "topic",
    "задание": "text",
    "домашнее задание": "text",
    "дз": "text",
    "текст": "text",
}


@dataclass(frozen=True, slots=True)
class TableKind:
    """What a file's header must name: its columns, those it cannot do without, and the
    names a person may write for them (lower case, «ё» as «е»)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, str]


#: The local journal (``journalsync import``).
JOURNAL = TableKind(COLUMNS, REQUIRED, _ALIASES)

_SEPARATORS = (",", ";", "\t")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab"}
_ZIP = b"PK\x03\x04"  # XLSX, ODS
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # XLS
_SAMPLE = 256 * 1024  # bytes the encoding detector sees
#: Code pages a Russian school's file may be in when it is not UTF-8.
_CODEPAGES = ["cp1251", "koi8_r", "cp866", "mac_cyrillic"]
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RU_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
#: A lesson or subgroup number: ASCII digits, short. ``str.isdigit`` also takes «²» and
#: other digits ``int`` refuses, and ``int`` refuses more than 4,300 digits (fuzzing found both).
_NUMBER = re.compile(r"[0-9]{1,9}")


class ImportFileError(ConfigError):
    """The file is not a readable local journal; nothing of it was written (exit code 2)."""

    hint = (
        "save the journal as CSV (UTF-8 or Windows-1251, ',' or ';' separated) or XLSX, with "
        "the header row kind,class,subject,subgroup,date,lesson,student,work_type,value,code,"
        "topic,text (see the README's import section)"
    )


@dataclass(slots=True)
class Table:
    """The header's columns and the data rows: ``(row number as a spreadsheet shows it, cells)``."""

    name: str
    #: SHA-256 of the file's bytes (of the text's UTF-8 for CSV text): the import's identity.
    digest: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]
    #: How the file was read, for the summary: «csv cp1251, separator ';'; columns …».
    form: str


def read_table(source: Path | str, name: str, kind: TableKind = JOURNAL) -> Table:
    """Open ``source`` (a path, or CSV text) as a table; raise :class:`ImportFileError` if the
    file has no recognisable header or is not text/spreadsheet at all."""
    if isinstance(source, str):
        return _csv_table(source, name, _digest(source.encode()), "csv text", kind)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file ({exc.strerror})") from None
    digest = _digest(data)
    if data.startswith((_ZIP, _OLE)):
        del data
        return _sheet_table(source, name, digest, kind)
    text, encoding = _decode(data, name)
    del data
    return _csv_table(text, name, digest, f"csv {encoding}", kind)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` or ``ДД.ММ.ГГГГ``; ValueError otherwise."""
    if m := _ISO_DATE.match(text):
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _RU_DATE.match(text):
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    raise ValueError(text)


def parse_number(text: str) -> int:
    """A small whole number written in ASCII digits; ValueError otherwise."""
    if _NUMBER.fullmatch(text) is None:
        raise ValueError(text)
    return int(text)


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ImportFileError(f"{name}: broken UTF-16 text") from None
    if b"\x00" in data:
        raise ImportFileError(f"{name}: binary data, not a CSV or XLSX file")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    sample = data[:_SAMPLE]
    best = from_bytes(sample, cp_isolation=_CODEPAGES).best()
    if best is None or best.encoding not in _CODEPAGES:
        raise ImportFileError(
            f"{name}: the text encoding is neither UTF-8 nor a Cyrillic code page"
        )
    try:
        return data.decode(best.encoding), best.encoding.replace("_", "-")
    except UnicodeDecodeError:
        raise ImportFileError(f"{name}: the text is not {best.encoding} throughout") from None


def _header(cells: Sequence[str], kind: TableKind) -> list[str | None]:
    """Canonical column names of a header row; ``None`` for a cell that names no column."""
    out: list[str | None] = []
    for cell in cells:
        key = " ".join(cell.replace("\ufeff", "").replace("ё", "е").lower().split())
        out.append(kind.aliases.get(key.replace("_", " ")) or kind.aliases.get(key))
    return out


def _check_header(name: str, cells: Sequence[str], kind: TableKind) -> tuple[str | None, ...]:
    columns = _header(cells, kind)
    missing = [c for c in kind.required if c not in columns]
    if missing:
        raise ImportFileError(
            f"{name}, row 1: no recognisable header (the columns {', '.join(missing)} are "
            "missing; the first row must name the columns)"
        )
    unknown = [
        i + 1
        for i, (c, cell) in enumerate(zip(columns, cells, strict=True))
        if c is None and cell.strip()
    ]
    if unknown:
        raise ImportFileError(
            f"{name}, row 1: unknown column name in column {unknown[0]} (known: "
            f"{', '.join(kind.columns)})"
        )
    seen = [c for c in columns if c is not None]
    twice = sorted({c for c in seen if seen.count(c) > 1})
    if twice:
        raise ImportFileError(f"{name}, row 1: the column {twice[0]} is named twice")
    return tuple(columns)


def _lines(text: str) -> Iterator[str]:
    """The text's lines with their endings, without a second copy of the whole text."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end + 1
        yield text[start:end]
        start = end


def _csv_table(text: str, name: str, digest: str, form: str, kind: TableKind) -> Table:
    first = next(_lines(text.lstrip("\ufeff")), "")
    best: tuple[int, str] = (-1, ",")
    for sep in _SEPARATORS:
        try:
            with _no_field_limit():
                cells = next(csv.reader([first], delimiter=sep), [])
        except csv.Error:
            cells = []
        known = sum(c is not None for c in _header(cells, kind))
        best = max(best, (known, sep), key=lambda b: b[0])
    sep = best[1]
    lines = _lines(text.lstrip("\ufeff"))
    reader = csv.reader(lines, delimiter=sep)
    with _no_field_limit():
        try:
            header = _check_header(name, next(reader, []), kind)
        except csv.Error as exc:
            raise ImportFileError(f"{name}, row 1: not CSV ({exc})") from None
    shown = ", ".join(c for c in header if c)
    form = f"{form}, separator {_SEPARATOR_NAMES[sep]}; columns {shown}"
    return Table(
        name, digest, tuple(c or "" for c in header), _csv_rows(reader, header, name), form
    )


@contextmanager
def _no_field_limit() -> Iterator[None]:
    """Lift the csv module's 128 KiB cell limit while reading: it ends the read with a bare
    csv.Error naming no column; :func:`_named` reports a long cell with its row and column."""
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_rows(
    reader: Iterator[list[str]], header: tuple[str | None, ...], name: str
) -> Iterator[tuple[int, dict[str, str]]]:
    n = 1
    old = csv.field_size_limit()
    while True:
        try:
            csv.field_size_limit(2**31 - 1)  # as _no_field_limit, not while the caller has the row
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"{name}, row {n + 1}: not CSV ({exc})") from None
        finally:
            csv.field_size_limit(old)
        n += 1
        yield n, _named(name, n, header, cells)


def _named(
    name: str, n: int, header: tuple[str | None, ...], cells: Sequence[str]
) -> dict[str, str]:
    if (
        len(cells) <= len(header)
        and None not in header
        and max(map(len, cells), default=0) <= MAX_FIELD
    ):
        return dict(zip(header, cells, strict=False))  # type: ignore[arg-type]
    row: dict[str, str] = {}
    for i, cell in enumerate(cells):
        if len(cell) > MAX_FIELD:
            column = header[i] if i < len(header) and header[i] else f"column {i + 1}"
            raise ImportFileError(
                f"{name}, row {n}, {column}: a cell of {len(cell):,} characters (a journal "
                f"cell holds at most {MAX_FIELD // 1024} KiB)"
            )
        if i < len(header):
            key = header[i]
            if key is not None:
                row[key] = cell
        elif cell.strip():
            row["\0extra"] = "more cells than the header has columns"
    return row


def _sheet_table(path: Path, name: str, digest: str, kind: TableKind) -> Table:
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(path)
        sheet = book.get_sheet_by_index(0)
        start = sheet.start
        rows = iter(sheet.iter_rows())
        first = next(rows, [])
    except (CalamineError, OSError, ValueError) as exc:
        raise ImportFileError(
            f"{name}: not a readable spreadsheet ({type(exc).__name__})"
        ) from None
    offset = start[0] if start else 0
    header = _check_header(name, [_cell_text(c) for c in first], kind)

    def data() -> Iterator[tuple[int, dict[str, str]]]:
        for i, cells in enumerate(rows, start=offset + 2):
            yield i, _named(name, i, header, [_cell_text(c) for c in cells])

    shown = ", ".join(c for c in header if c)
    form = f"xlsx, first sheet; columns {shown}"
    return Table(name, digest, tuple(c or "" for c in header), data(), form)


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the CSV would have it: whole numbers without «.0», dates ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
