"""Reading a OneRoster 1.2 CSV set (a ``.zip`` or a directory) into importer rows.

The whole set is checked before anything is read into the store, and every problem found is
reported with its file, row and column in one :class:`ImportFileError` (exit code 2, nothing
written). What we follow of the 1EdTech OneRoster CSV Binding 1.2 (§3, "CSV format"; §2 for
the manifest), and where we are stricter or looser:

* ``manifest.csv`` first: the header ``propertyName,value``; ``manifest.version`` 1.0 and
  ``oneroster.version`` 1.2; each ``file.<name>`` is ``absent``, ``bulk`` or ``delta``; a file the
  manifest marks bulk/delta must be in the set and one it marks absent (or does not name) must
  not. The CSV files are at the root of the zip (the package's own ``journal/`` folder and README
  are not part of the set and are not read).
* Encoding: UTF-8 (RFC 3629). "Importing processors must tolerate BOM prefixes and ignore them":
  a UTF-8 BOM at the start of a file is skipped. A UTF-16 file (its BOM ``FF FE``/``FE FF``),
  bytes that are not UTF-8, and a BOM anywhere else (two files glued together) are errors at the
  row and column where they are.
* Header: required; names case-sensitive, unique, and the binding's fields in the binding's
  order; extension columns (``metadata.…``) only to the right of them. Every data row has as many
  cells as the header. "Files that contain no data rows are NOT permitted" — such a file is an
  error too (it should be marked absent instead).
* ``sourcedId`` unique within a file; every reference (:data:`core.package.REFERENCES`: an
  enrollment's user and class, a result's line item and student, a line item's class and
  category …) names a row of the set. A delta set is held to the same: it must carry what its
  rows refer to (our own outbox packages do).
* ``status`` (delta) is ``active`` or ``tobedeleted``; a ``tobedeleted`` result is quarantined
  (import adds and changes records, it deletes none).

What becomes records: each result (a mark) is a row of the local-journal importer — class
(``classes.classCode``), subject (the course's ``title``), subgroup («подгруппа N» in the class
title), date (the line item's ``assignDate``), work type (the category's ``sourcedId`` or
``title``), pupil (``familyName givenName middleName``), the value (``score``, else
``textScore``) — so it is resolved against the school's snapshot as a CSV row is: a pupil only
within the row's class and subgroup, conflicts quarantined, one transaction. Where the set was
written by journalsync the ids are ours: a ``classSourcedId`` the snapshot knows is taken as the
group, a ``studentSourcedId`` it has in that class settles namesakes, and the extension columns
(:data:`core.package.EXTENSIONS`) give the lesson number, the mark's ordinal and its weight.
Without a lesson number the group's only lesson that day is taken (else the row is
quarantined). Final marks (category ``final``) are quarantined: the importer writes lesson
marks, attendance, topics and homework only. The roster files are checked and used to name
pupils and groups; the roster records themselves stay the platform's (its snapshot).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.codes import WORK_TYPES
from core.importer._read import MAX_FIELD, ImportFileError, Table
from core.package import FINAL_CATEGORY, HEADERS, MANIFEST_FILES, reference_errors

__all__ = ["OneRosterSet", "is_oneroster", "oneroster_table", "read_set"]

MANIFEST_HEADER = ("propertyName", "value")
_MODES = ("absent", "bulk", "delta")
_STATUSES = ("", "active", "tobedeleted")
_LIMIT = 50  # errors listed at most
_SUBGROUP = re.compile(r"подгруппа\s+(\d{1,3})")
#: Files of the binding this importer reads; the others may be present (and are checked against
#: the manifest) but their rows are not read.
READ = tuple(HEADERS)
_WORK_CODES = frozenset(WORK_TYPES)


class OneRosterError(ImportFileError):
    """The set breaks the OneRoster 1.2 CSV binding; nothing of it was written (exit code 2)."""

    hint = (
        "fix the files named above (or export the set again) and import it again; journalsync "
        "reads OneRoster 1.2 CSV sets: manifest.csv and the CSV files at the root of the zip"
    )


@dataclass(slots=True)
class OneRosterSet:
    name: str
    digest: str
    modes: dict[str, str] = field(default_factory=dict)
    #: file → (row number, cells by header name); the header is row 1.
    tables: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)


def is_oneroster(source: Path) -> bool:
    """A directory, or a zip holding a ``manifest.csv`` (at its root, or — an error reported by
    :func:`read_set` — in a folder)."""
    if source.is_dir():
        return True
    if source.suffix.lower() != ".zip":
        return False
    try:
        with zipfile.ZipFile(source) as zf:
            return any(n.rsplit("/", 1)[-1] == "manifest.csv" for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _files(source: Path) -> dict[str, bytes]:
    """The CSV files at the set's root, by name."""
    out: dict[str, bytes] = {}
    if source.is_dir():
        for path in sorted(source.iterdir()):
            if path.is_file() and path.suffix.lower() == ".csv":
                out[path.name] = path.read_bytes()
        return out
    try:
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if "/" not in info.filename and info.filename.lower().endswith(".csv"):
                    if info.file_size > 512 * 1024 * 1024:
                        raise OneRosterError(f"{source.name}: {info.filename} is over 512 MiB")
                    out[info.filename] = zf.read(info)
    except (zipfile.BadZipFile, OSError) as exc:
        raise OneRosterError(f"{source.name}: not a readable zip ({type(exc).__name__})") from None
    return out


def _decode(name: str, data: bytes, errors: list[str]) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.append(
            f"{name}, row 1: UTF-16 text (byte order mark {data[:2].hex(' ').upper()}); the "
            "binding asks for UTF-8"
        )
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # tolerated, as §3 asks
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = body.rfind(b"\n", 0, exc.start) + 1
        row = body.count(b"\n", 0, exc.start) + 1
        prefix = body[line_start : exc.start].decode("utf-8", "replace")
        column = _column_name(body, len(next(csv.reader([prefix]), [""])))
        errors.append(
            f"{name}, row {row}, column {column}: not UTF-8 (byte "
            f"{body[exc.start]:02X}); the binding asks for UTF-8"
        )
        return None


def _column_name(body: bytes, index: int) -> str:
    """The header's name of the 1-based column ``index``, else its number."""
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    header = next(csv.reader([first]), [])
    return header[index - 1] if 0 < index <= len(header) else str(index)


def _rows(name: str, text: str, errors: list[str]) -> list[list[str]] | None:
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        errors.append(f"{name}: not CSV ({exc})")
        return None
    for n, cells in enumerate(rows, start=1):
        for i, cell in enumerate(cells):
            if "\ufeff" in cell:
                column = rows[0][i] if n > 1 and i < len(rows[0]) else str(i + 1)
                errors.append(
                    f"{name}, row {n}, column {column}: a byte order mark inside the file (two "
                    "files joined?)"
                )
                return None
            if len(cell) > MAX_FIELD:
                errors.append(f"{name}, row {n}, column {i + 1}: a cell over 128 KiB")
                return None
    return rows


def _check_header(name: str, header: list[str], errors: list[str]) -> bool:
    expected = HEADERS.get(name, ())
    if len(set(header)) != len(header):
        twice = next(h for h in header if header.count(h) > 1)
        errors.append(f"{name}, row 1: the column {twice!r} is named twice")
        return False
    for i, want in enumerate(expected):
        got = header[i] if i < len(header) else None
        if got != want:
            where = f"column {i + 1}"
            found = f"found {got!r}" if got is not None else "the header ends"
            errors.append(
                f"{name}, row 1, {where}: expected {want!r}, {found} (the binding fixes the "
                "names, their case and their order)"
            )
            return False
    extra = [h for h in header[len(expected) :] if not h.startswith("metadata.")]
    if extra:
        errors.append(
            f"{name}, row 1, column {header.index(extra[0]) + 1}: {extra[0]!r} is not a field "
            "of the binding (extension columns are named metadata.… and come last)"
        )
        return False
    return True


def _manifest(name: str, rows: list[list[str]], errors: list[str]) -> dict[str, str]:
    if not rows or tuple(rows[0]) != MANIFEST_HEADER:
        errors.append(f"{name}, row 1: the header must be propertyName,value")
        return {}
    props: dict[str, tuple[int, str]] = {}
    for n, cells in enumerate(rows[1:], start=2):
        if len(cells) != 2:
            errors.append(f"{name}, row {n}: expected 2 cells, found {len(cells)}")
            continue
        if cells[0] in props:
            errors.append(f"{name}, row {n}, column propertyName: {cells[0]!r} is given twice")
        props[cells[0]] = (n, cells[1])
    for prop, want in (("manifest.version", "1.0"), ("oneroster.version", "1.2")):
        if prop not in props:
            errors.append(f"{name}: no {prop} row")
        elif props[prop][1] != want:
            errors.append(
                f"{name}, row {props[prop][0]}, column value: {prop} is {props[prop][1]!r}, "
                f"expected {want!r}"
            )
    modes: dict[str, str] = {}
    for prop, (n, value) in props.items():
        if not prop.startswith("file."):
            continue
        if prop.removeprefix("file.") not in MANIFEST_FILES:
            errors.append(f"{name}, row {n}, column propertyName: {prop!r} is not a 1.2 file")
        elif value not in _MODES:
            errors.append(
                f"{name}, row {n}, column value: {prop} is {value!r}, expected absent, bulk or "
                "delta"
            )
        else:
            modes[prop.removeprefix("file.") + ".csv"] = value
    return modes


def read_set(source: Path) -> OneRosterSet:
    """Read and check the whole set; :class:`OneRosterError` listing every problem found."""
    files = _files(source)
    digest = hashlib.sha256()
    for fname in sorted(files):
        digest.update(fname.encode() + b"\0" + hashlib.sha256(files[fname]).digest())
    result = OneRosterSet(source.name, digest.hexdigest())
    errors: list[str] = []
    if "manifest.csv" not in files:
        nested = ""
        if not source.is_dir():
            with zipfile.ZipFile(source) as zf:
                inner = next((n for n in zf.namelist() if n.endswith("/manifest.csv")), None)
            if inner:
                nested = f" (found {inner}: zip the files themselves, not their folder)"
        raise OneRosterError(f"{source.name}: no manifest.csv at the root of the set{nested}")
    text = _decode("manifest.csv", files["manifest.csv"], errors)
    rows = _rows("manifest.csv", text, errors) if text is not None else None
    if rows is not None:
        result.modes = _manifest("manifest.csv", rows, errors)
    if errors:
        raise OneRosterError(_joined(source.name, errors))
    for fname in sorted(set(files) - {"manifest.csv"}):
        mode = result.modes.get(fname)
        if fname.removesuffix(".csv") not in MANIFEST_FILES:
            continue  # not a file of the binding: not ours to judge
        if mode in (None, "absent"):
            errors.append(f"manifest.csv: {fname} is in the set but the manifest marks it absent")
    for fname, mode in sorted(result.modes.items()):
        if mode != "absent" and fname not in files:
            errors.append(
                f"manifest.csv: file.{fname[:-4]} is {mode} but {fname} is not in the set"
            )
    for fname in READ:
        if fname not in files or result.modes.get(fname, "absent") == "absent":
            continue
        text = _decode(fname, files[fname], errors)
        rows = _rows(fname, text, errors) if text is not None else None
        if rows is None:
            continue
        if not rows:
            errors.append(f"{fname}, row 1: no header row")
            continue
        if not _check_header(fname, rows[0], errors):
            continue
        if len(rows) == 1:
            errors.append(f"{fname}: no data rows (the binding asks for file.… absent instead)")
            continue
        header = rows[0]
        table: list[tuple[int, dict[str, str]]] = []
        for n, cells in enumerate(rows[1:], start=2):
            if len(cells) != len(header):
                errors.append(f"{fname}, row {n}: {len(cells)} cells, the header has {len(header)}")
                continue
            row = dict(zip(header, cells, strict=True))
            if row.get("status", "") not in _STATUSES:
                errors.append(
                    f"{fname}, row {n}, column status: {row['status']!r}, expected active or "
                    "tobedeleted"
                )
            table.append((n, row))
        result.tables[fname] = table
    if len(errors) < _LIMIT:
        errors += reference_errors(result.tables, _LIMIT - len(errors))
    if errors:
        raise OneRosterError(_joined(source.name, errors))
    return result


def _joined(name: str, errors: list[str]) -> str:
    shown = errors[:_LIMIT]
    more = f"\n… and more (the first {_LIMIT} are shown)" if len(errors) >= _LIMIT else ""
    return (
        f"{name}: not a valid OneRoster 1.2 set, nothing was imported:\n"
        + "\n".join(f"  {e}" for e in shown)
        + more
    )


def _full_name(user: Mapping[str, str]) -> str:
    return " ".join(x for x in (user["familyName"], user["givenName"], user["middleName"]) if x)


def _result_rows(s: OneRosterSet) -> Iterator[tuple[int, dict[str, str]]]:
    t = s.tables
    users = {r["sourcedId"]: r for _, r in t.get("users.csv", [])}
    classes = {r["sourcedId"]: r for _, r in t.get("classes.csv", [])}
    courses = {r["sourcedId"]: r for _, r in t.get("courses.csv", [])}
    items = {r["sourcedId"]: r for _, r in t.get("lineItems.csv", [])}
    categories = {r["sourcedId"]: r for _, r in t.get("categories.csv", [])}
    for n, res in t.get("results.csv", []):
        item = items[res["lineItemSourcedId"]]
        cls = classes[item["classSourcedId"]]
        course = courses.get(cls["courseSourcedId"], {})
        category = categories[item["categorySourcedId"]]
        sub = _SUBGROUP.search(cls["title"])
        row = {
            "kind": "mark",
            "class": cls["classCode"],
            "subject": course.get("title", ""),
            "subgroup": sub.group(1) if sub else "",
            "date": item["assignDate"],
            "lesson": item.get("metadata.lessonNumber", ""),
            "student": _full_name(users[res["studentSourcedId"]]),
            "work_type": category["sourcedId"],
            "value": res["score"] or res["textScore"],
            "\0group": cls["sourcedId"],
            "\0student": res["studentSourcedId"],
            "\0ordinal": item.get("metadata.markOrdinal", "") or "1",
            "\0weight": res.get("metadata.weight", "") or category.get("weight", ""),
            "\0comment": res["comment"],
            "\0teacher": res.get("metadata.teacherSourcedId", ""),
        }
        if not _is_number(row["\0ordinal"]):
            row["\0skip"] = "metadata.markOrdinal is not a whole number"
            row["\0skip_field"] = "value"
        elif row["\0weight"] and not _is_weight(row["\0weight"]):
            row["\0weight"] = ""
        if category["sourcedId"] == FINAL_CATEGORY:
            row["\0skip"] = "a final mark: import writes lesson marks only"
            row["\0skip_field"] = "work_type"
        elif res.get("status") == "tobedeleted":
            row["\0skip"] = (
                "a deletion (status tobedeleted): import adds and changes, never deletes"
            )
            row["\0skip_field"] = "row"
        elif res["scoreStatus"] not in ("fully graded", "exempt", "partially graded", ""):
            row["\0skip"] = f"scoreStatus {res['scoreStatus']!r} is not a mark"
            row["\0skip_field"] = "value"
        if category["sourcedId"] not in _WORK_CODES and category["title"]:
            row["work_type"] = category["title"]  # another system's category: its name
        yield n, row


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < len(text) < 4 and int(text) > 0


def _is_weight(text: str) -> bool:
    try:
        return 0 < float(text) < 100
    except ValueError:
        return False


def oneroster_table(source: Path) -> Table:
    """The set's results as importer rows (checked first; :class:`OneRosterError` if not valid)."""
    s = read_set(source)
    read = ", ".join(f"{f.removesuffix('.csv')} {len(s.tables[f])}" for f in s.tables)
    mode = "delta" if "delta" in s.modes.values() else "bulk"
    return Table(
        f"{s.name}/results.csv",
        s.digest,
        ("kind", "class", "subject", "subgroup", "date", "lesson", "student", "work_type",
         "value"),
        _result_rows(s),
        f"OneRoster 1.2 {mode} set; rows: {read}",
    )  # fmt: skip
