"""The school's curriculum (учебный план) for ``lessons.curriculum_hours`` and accumulation:
weekly hours per subject per grade, from a CSV or XLSX file or a config table.

A file has a header row naming three columns — grade («класс», «параллель»), subject
(«предмет») and weekly hours («часов в неделю», «часы») — in any order; CSV may be UTF-8 (with
or without BOM) or Windows-1251, separated by ``,``, ``;`` or tabs, and hours may use a decimal
comma. A bad file is one :class:`~core.errors.ConfigError` naming the file, row and field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from core.errors import ConfigError

__all__ = ["curriculum_from_config", "read_curriculum"]

_HEADERS = {
    "grade": ("grade", "класс", "параллель"),
    "subject": ("subject", "предмет"),
    "hours": ("hours", "часов в неделю", "часы", "часов", "hours_per_week"),
}


def _column(header: list[str], field: str, name: str) -> int:
    names = [h.strip().lower() for h in header]
    for alias in _HEADERS[field]:
        if alias in names:
            return names.index(alias)
    raise ConfigError(
        f"{name}: no column for {field} in the header {header!r} "
        f"(expected one of {', '.join(_HEADERS[field])})"
    )


def _rows_of(path: Path) -> list[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path.name}: cannot read the curriculum file ({exc.strerror})"
        ) from None
    if data.startswith(b"PK\x03\x04"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a broken workbook
            raise ConfigError(f"{path.name}: not a readable XLSX workbook") from None
        sheet = wb.worksheets[0]
        rows = [
            ["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)
        ]
        wb.close()
        return rows
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes every byte but a few
        raise ConfigError(f"{path.name}: the text is neither UTF-8 nor Windows-1251")
    first = text.splitlines()[0] if text else ""
    sep = max((",", ";", "\t"), key=first.count)
    return [row for row in csv.reader(io.StringIO(text), delimiter=sep)]


def _parse(rows: Iterable[tuple[int, Any, Any, Any]], name: str) -> dict[tuple[int, str], float]:
    out: dict[tuple[int, str], float] = {}
    for row_no, grade, subject, hours in rows:
        where = f"{name}, row {row_no}"
        try:
            g = int(float(str(grade).strip().replace(",", ".")))
        except ValueError:
            raise ConfigError(f"{where}: grade {str(grade)[:20]!r} is not a number") from None
        s = str(subject).strip()
        if not s:
            raise ConfigError(f"{where}: subject is empty")
        try:
            h = float(str(hours).strip().replace(",", "."))
        except ValueError:
            raise ConfigError(f"{where}: hours {str(hours)[:20]!r} is not a number") from None
        if not 0 <= h <= 60 or not 0 <= g <= 12:
            raise ConfigError(f"{where}: grade {g} / {h} hours a week is out of range")
        if (g, s) in out:
            raise ConfigError(f"{where}: grade {g}, subject {s!r} is listed twice")
        out[(g, s)] = h
    return out


def read_curriculum(path: Path | str) -> dict[tuple[int, str], float]:
    """(grade, subject) → weekly hours from a CSV or XLSX file."""
    p = Path(path)
    rows = [r for r in _rows_of(p)]
    if not rows:
        raise ConfigError(f"{p.name}: the curriculum file is empty")
    header = rows[0]
    cols = [_column(header, f, p.name) for f in ("grade", "subject", "hours")]
    body = [
        (n, *(row[c] if c < len(row) else "" for c in cols))
        for n, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row)
    ]
    return _parse(body, p.name)  # type: ignore[arg-type]


def curriculum_from_config(table: Mapping[str, Mapping[str, Any]]) -> dict[tuple[int, str], float]:
    """From a config table ``{grade: {subject: hours}}`` (TOML keys are strings)."""
    rows = [
        (i, grade, subject, hours)
        for i, (grade, subjects) in enumerate(table.items(), start=1)
        for subject, hours in subjects.items()
    ]
    return _parse(rows, "config [compliance.curriculum]")
