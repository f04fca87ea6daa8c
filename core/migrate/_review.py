"""The review file: what the matcher could not settle, for the operator to decide, in Russian.

:func:`write_review` writes the same rows as XLSX (a «Решение» column with a drop-down list)
and CSV (``;``, UTF-8 with BOM, as Excel in Russia opens it): every ambiguous and unmatched
source record, and every match made on a weak rule (the name alone), with its candidates
numbered. The operator writes «принять», «выбрать N» or «отклонить» in «Решение» (empty: not
decided — the record stays pending, never applied). :func:`read_review` reads either file back
into decisions; a bad cell is an error naming the file, the row and the column.

Each row carries a row code (a hidden column in the XLSX) naming the record and its candidates
as the matcher knows them, so the decisions map back whatever the operator re-sorts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from core.documents import csv_text, put_cell
from core.errors import Fatal
from core.files import write_private
from core.migrate._match import (
    MATCH_ENTITIES,
    Decision,
    Match,
    MatchSet,
    normalise_name,
    person_classes,
    person_kind,
)
from core.model import (
    AcademicYear,
    ClassUnit,
    Group,
    Period,
    Person,
    Record,
    Subject,
)

__all__ = [
    "REVIEW_BELOW",
    "REVIEW_COLUMNS",
    "ReviewError",
    "read_review",
    "review_rows",
    "write_review",
]

#: A match with a confidence below this goes to the review too (made on a weak rule).
REVIEW_BELOW = 0.9
#: At most this many candidates are offered for a record the matcher found no pair for.
_NEAR = 5

REVIEW_COLUMNS = (
    "№",
    "Что",
    "Запись в исходной системе",
    "Класс",
    "Дата рождения",
    "Состояние",
    "Кандидаты в новой системе",
    "Правило",
    "Уверенность",
    "Решение",
    "Код строки (не изменять)",
)
_DECISION = REVIEW_COLUMNS.index("Решение")
_CODE = REVIEW_COLUMNS.index("Код строки (не изменять)")
_WIDTHS = (5, 14, 36, 8, 13, 14, 60, 26, 12, 16, 20)

_ENTITY_RU = {
    "academic_year": "Учебный год",
    "period": "Период",
    "class_unit": "Класс",
    "subject": "Предмет",
    "group": "Группа",
}
_PERSON_RU = {"student": "Ученик", "staff": "Сотрудник", "guardian": "Представитель"}
_STATE_RU = {
    "matched": "проверить",
    "ambiguous": "несколько кандидатов",
    "unmatched": "пара не найдена",
    "rejected": "отклонено",
}
_RULE_RU = {
    "same_key": "совпадает ключ записи",
    "external_id": "общий идентификатор",
    "name_birth_class": "ФИО, дата рождения и класс",
    "name_class": "ФИО и класс",
    "name": "только ФИО",
    "operator": "решение оператора",
    "": "—",
}
_CHOICES = ("принять", "отклонить", *(f"выбрать {n}" for n in range(1, 6)))
_CHOOSE = re.compile(r"^выбрать\s*(?:№\s*)?(\d{1,3})$")


class ReviewError(Fatal):
    """A review file that cannot be read back: names the file, row and column."""

    hint = "fix the cell (принять, выбрать N or отклонить; empty: not decided) and read it again"


@dataclass(frozen=True, slots=True)
class _Row:
    match: Match
    candidates: tuple[str, ...]  # target ids, numbered from 1
    values: tuple[str, ...]  # the visible cells

    @property
    def code(self) -> str:
        return "|".join((self.match.entity, self.match.source_id, ",".join(self.candidates)))


class _Describer:
    """Records in words, as the school knows them (no ids)."""

    def __init__(self, records: Iterable[Record]) -> None:
        records = list(records)
        self.by_id: dict[str, Record] = {r.id: r for r in records if r.ENTITY in MATCH_ENTITIES}
        self.units = {r.id: r for r in records if isinstance(r, ClassUnit)}
        self.classes = {k: ", ".join(sorted(v)) for k, v in person_classes(records).items()}

    def what(self, entity: str, rec: Record | None) -> str:
        if isinstance(rec, Person):
            return _PERSON_RU[person_kind(rec)]
        return _ENTITY_RU.get(entity, entity)

    def name(self, rec: Record | None) -> str:
        if rec is None:
            return "(нет в выгрузке)"
        if isinstance(rec, Person):
            return " ".join(p for p in (rec.last_name, rec.first_name, rec.middle_name) if p)
        if isinstance(rec, AcademicYear):
            return f"{rec.start_year}/{rec.start_year + 1}"
        if isinstance(rec, Period):
            label = rec.name or f"{rec.ordinal} ({rec.kind.value})"
            return f"{label}, {rec.start:%d.%m.%Y}–{rec.end:%d.%m.%Y}"
        if isinstance(rec, ClassUnit):
            return rec.name
        if isinstance(rec, Subject):
            return rec.name
        if isinstance(rec, Group):
            unit = self.units.get(rec.class_id)
            subject = self.by_id.get(rec.subject_id)
            text = f"{unit.name if unit else '?'} · {self.name(subject) if subject else '?'}"
            return text + (f", подгруппа {rec.subgroup}" if rec.subgroup else "")
        return rec.ENTITY

    def class_of(self, rec: Record | None) -> str:
        return self.classes.get(rec.id, "") if isinstance(rec, Person) else ""

    def birth(self, rec: Record | None) -> str:
        if isinstance(rec, Person) and rec.birth_date is not None:
            return f"{rec.birth_date:%d.%m.%Y}"
        return ""

    def full(self, rec: Record | None) -> str:
        """A candidate in one line: name, class, birth date where known."""
        parts = [self.name(rec), self.class_of(rec), self.birth(rec)]
        return ", ".join(p for p in parts if p)


def _near(m: Match, source: _Describer, target: _Describer, taken: set[str]) -> tuple[str, ...]:
    """For a person without a pair: targets of the same kind not matched yet, with the same
    surname, or the same first name and class — a typo or a changed surname, for the operator."""
    rec = source.by_id.get(m.source_id)
    if not isinstance(rec, Person):
        return ()
    kind, last = person_kind(rec), normalise_name(rec.last_name)
    given = normalise_name(rec.first_name, rec.middle_name)
    cls = source.class_of(rec)
    out: list[tuple[str, str]] = []
    for tid, t in target.by_id.items():
        if not isinstance(t, Person) or tid in taken or person_kind(t) != kind:
            continue
        same_last = normalise_name(t.last_name) == last
        same_given = normalise_name(t.first_name, t.middle_name) == given
        if same_last or (same_given and cls and target.class_of(t) == cls):
            out.append((target.full(t), tid))
    return tuple(tid for _, tid in sorted(out)[:_NEAR])


def review_rows(
    matchset: MatchSet, source_records: Iterable[Record], target_records: Iterable[Record]
) -> list[tuple[str, ...]]:
    """The review's rows (visible cells and the row code), in the files' order."""
    return [(*r.values, r.code) for r in _rows(matchset, source_records, target_records)]


def _rows(
    matchset: MatchSet, source_records: Iterable[Record], target_records: Iterable[Record]
) -> list[_Row]:
    source, target = _Describer(source_records), _Describer(target_records)
    taken = set(matchset.id_map().values())
    order = {e: n for n, e in enumerate(MATCH_ENTITIES)}
    wanted = [
        m
        for m in matchset.matches
        if m.state in ("ambiguous", "unmatched")
        or (m.state == "matched" and m.confidence < REVIEW_BELOW and not m.decided_by)
    ]

    def key(m: Match) -> tuple[int, str, str, str]:
        rec = source.by_id.get(m.source_id)
        return (order.get(m.entity, 99), source.class_of(rec), source.name(rec), m.source_id)

    out: list[_Row] = []
    for n, m in enumerate(sorted(wanted, key=key), start=1):
        rec = source.by_id.get(m.source_id)
        if m.state == "matched" and m.target_id is not None:
            candidates: tuple[str, ...] = (m.target_id,)
        elif m.state == "ambiguous":
            candidates = m.candidates
        else:
            candidates = _near(m, source, target, taken)
        listed = "; ".join(
            f"{i}) {target.full(target.by_id.get(c))}" for i, c in enumerate(candidates, start=1)
        )
        values = (
            str(n),
            source.what(m.entity, rec),
            source.name(rec),
            source.class_of(rec),
            source.birth(rec),
            _STATE_RU[m.state],
            listed or "—",
            _RULE_RU.get(m.rule, m.rule) if m.state != "unmatched" else "—",
            f"{round(m.confidence * 100)} %" if m.state != "unmatched" else "—",
            "",
        )
        out.append(_Row(m, candidates, values))
    return out


def write_review(
    matchset: MatchSet,
    source_records: Iterable[Record],
    target_records: Iterable[Record],
    out_dir: str | Path,
    *,
    name: str = "сопоставление",
    title: str = "Сопоставление записей при переходе на новую систему",
) -> tuple[Path, Path]:
    """Write ``<name>.xlsx`` and ``<name>.csv`` (owner-only) into ``out_dir``."""
    source_records, target_records = list(source_records), list(target_records)
    rows = _rows(matchset, source_records, target_records)
    folder = Path(out_dir)
    xlsx = write_private(folder / f"{name}.xlsx", _xlsx(rows, title))
    csv_path = write_private(folder / f"{name}.csv", _csv(rows))
    return xlsx, csv_path


_HELP = (
    "В столбце «Решение» напишите: «принять» — пара верна; «выбрать N» — верен кандидат под "
    "номером N; «отклонить» — пары в новой системе нет. Пустая ячейка — решение не принято, "
    "запись не переносится. Столбец «Код строки» не изменяйте."
)


def _xlsx(rows: Sequence[_Row], title: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Сопоставление"
    put_cell(ws, 1, 1, title).font = Font(bold=True, size=14)
    put_cell(ws, 2, 1, _HELP).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(REVIEW_COLUMNS) - 1)
    ws.row_dimensions[2].height = 45
    header = 4
    fill = PatternFill("solid", fgColor="D9E1F2")
    for i, (head, width) in enumerate(zip(REVIEW_COLUMNS, _WIDTHS, strict=True), start=1):
        c = put_cell(ws, header, i, head)
        c.font, c.fill = Font(bold=True), fill
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.column_dimensions[get_column_letter(i)].width = width
    for r, row in enumerate(rows, start=header + 1):
        for i, value in enumerate((*row.values, row.code), start=1):
            c = put_cell(ws, r, i, value)
            c.alignment = Alignment(wrap_text=i in (3, 7), vertical="top")
    ws.column_dimensions[get_column_letter(_CODE + 1)].hidden = True
    if rows:
        col = get_column_letter(_DECISION + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(_CHOICES) + '"', allow_blank=True)
        dv.errorStyle = "warning"  # «выбрать 7» is fine where there are seven candidates
        dv.error, dv.errorTitle = "принять, выбрать N или отклонить", "Решение"
        dv.showErrorMessage = True
        ws.add_data_validation(dv)
        dv.add(f"{col}{header + 1}:{col}{header + len(rows)}")
    ws.freeze_panes = f"A{header + 1}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv(rows: Sequence[_Row]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(REVIEW_COLUMNS)
    for row in rows:
        writer.writerow([csv_text(v) for v in (*row.values, row.code)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# -- reading back ---------------------------------------------------------------------------------


def read_review(path: str | Path) -> dict[tuple[str, str], Decision]:
    """The operator's decisions from a review file (XLSX or CSV), by (entity, source id).

    Rows with an empty «Решение» are left out (not decided). Raises :class:`ReviewError`
    naming the file, row and column for a cell that cannot be read."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx":
        table = _xlsx_table(p)
    elif p.suffix.lower() == ".csv":
        table = _csv_table(p)
    else:
        raise ReviewError(f"{p.name}: a review file is .xlsx or .csv, not {p.suffix or 'this'}")
    header_at = next(
        (n for n, cells in table if "Решение" in cells and REVIEW_COLUMNS[_CODE] in cells), None
    )
    if header_at is None:
        raise ReviewError(
            f"{p.name}: no header row with «Решение» and «{REVIEW_COLUMNS[_CODE]}»"
            " (is this a review file written by journalsync?)"
        )
    header = dict(table)[header_at]
    at_decision, at_code = header.index("Решение"), header.index(REVIEW_COLUMNS[_CODE])
    out: dict[tuple[str, str], Decision] = {}
    for n, cells in table:
        if n <= header_at or not any(c.strip() for c in cells):
            continue
        raw = cells[at_decision].strip() if at_decision < len(cells) else ""
        code = cells[at_code].strip() if at_code < len(cells) else ""
        entity, source_id, candidates = _code(p, n, code)
        if not raw:
            continue
        decision = _decision(p, n, raw, candidates)
        if (entity, source_id) in out:
            raise ReviewError(
                f"{p.name}: row {n}, column «{REVIEW_COLUMNS[_CODE]}»: the same record twice"
            )
        out[(entity, source_id)] = decision
    return out


def _code(p: Path, n: int, code: str) -> tuple[str, str, tuple[str, ...]]:
    parts = code.split("|")
    where = f"{p.name}: row {n}, column «{REVIEW_COLUMNS[_CODE]}»"
    if (
        len(parts) != 3
        or parts[0] not in MATCH_ENTITIES
        or not re.fullmatch(r"[0-9a-f]{32}", parts[1])
    ):
        raise ReviewError(f"{where}: not a row code written by journalsync (was it edited?)")
    candidates = tuple(c for c in parts[2].split(",") if c)
    if not all(re.fullmatch(r"[0-9a-f]{32}", c) for c in candidates):
        raise ReviewError(f"{where}: not a row code written by journalsync (was it edited?)")
    return parts[0], parts[1], candidates


def _decision(p: Path, n: int, raw: str, candidates: tuple[str, ...]) -> Decision:
    where = f"{p.name}: row {n}, column «Решение»"
    text = " ".join(raw.lower().replace("ё", "е").split())
    if text == "отклонить":
        return Decision("reject")
    if text == "принять":
        if len(candidates) != 1:
            raise ReviewError(
                f"{where}: «{raw}» needs one proposed pair; this row has"
                f" {len(candidates) or 'no'} candidates — write «выбрать N» or «отклонить»"
            )
        return Decision("accept", candidates[0])
    if m := _CHOOSE.match(text):
        k = int(m.group(1))
        if not candidates:
            raise ReviewError(f"{where}: «{raw}»: this row has no candidates to choose from")
        if not 1 <= k <= len(candidates):
            raise ReviewError(f"{where}: «{raw}»: choose a candidate from 1 to {len(candidates)}")
        return Decision("choose", candidates[k - 1])
    raise ReviewError(
        f"{where}: «{raw[:40]}» is not a decision: write принять, выбрать N or отклонить"
    )


def _xlsx_table(p: Path) -> list[tuple[int, list[str]]]:
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ReviewError(f"{p.name}: not a readable XLSX file ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        out = []
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            out.append((n, [_text(v) for v in row]))
        return out
    finally:
        wb.close()


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, date):
        return f"{v:%d.%m.%Y}"
    return str(v)


def _csv_table(p: Path) -> list[tuple[int, list[str]]]:
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ReviewError(f"{p.name}: cannot read the file ({exc.strerror})") from None
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes almost any byte
        raise ReviewError(f"{p.name}: not UTF-8 or Windows-1251 text")
    first = text.split("\n", 1)[0]
    sep = ";" if first.count(";") >= first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    except csv.Error as exc:
        raise ReviewError(f"{p.name}: not a readable CSV file ({exc})") from None
    return [(n, [c.removeprefix("'") for c in row]) for n, row in enumerate(rows, start=1)]
