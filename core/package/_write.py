"""Write a package as one reproducible zip: the OneRoster CSV set at the root, the per-class
journal XLSX under ``journal/``, and ``README.txt`` for the operator.

The same package gives the same bytes: rows are sorted, every zip entry (the XLSX's own entries
too) carries the package time, and the XLSX document properties are pinned to it — so a package
can be checksummed and a re-issued one compared with the first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from core.documents import TableDocument, csv_text, local_time
from core.files import write_private
from core.package._journal import class_workbooks, workbook_bytes
from core.package._model import Package
from core.package._oneroster import csv_tables
from core.worklist import PLATFORM_NAMES

__all__ = ["package_bytes", "package_files", "write_package"]

_MIN_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _zip_time(at: datetime) -> tuple[int, int, int, int, int, int]:
    at = at.astimezone(UTC) if at.tzinfo else at
    stamp = (at.year, at.month, at.day, at.hour, at.minute, at.second)
    return max(stamp, _MIN_ZIP_TIME)


def _entry(name: str, at: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=at)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # the same bytes on every OS
    info.external_attr = 0o600 << 16  # unzipped owner-only too: pupils' names and marks
    return info


def _zip(files: Iterable[tuple[str, bytes]], at: tuple[int, int, int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files:
            zf.writestr(_entry(name, at), data, compresslevel=6)
    return buf.getvalue()


def _csv_bytes(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    # A value a spreadsheet would run as a formula gets a leading «'» (see core/documents/_safe).
    csv.writer(text, lineterminator="\r\n").writerows([[csv_text(v) for v in r] for r in rows])
    return text.getvalue().encode("utf-8")  # UTF-8 without a BOM, as the binding asks


def _xlsx_bytes(docs: list[TableDocument], generated_at: datetime) -> bytes:
    """The workbook with its entries re-zipped at the package time and its dates pinned."""
    stamp = generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    at = _zip_time(generated_at)
    with zipfile.ZipFile(io.BytesIO(workbook_bytes(docs))) as src:
        entries = []
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            entries.append((info.filename, data))
    return _zip(entries, at)


def _stamp(package: Package) -> str:
    return local_time(package.generated_at, package.timezone)


def _readme(package: Package, files: Mapping[str, bytes], csv_names: list[str]) -> bytes:
    counts = package.counts
    platform = PLATFORM_NAMES.get(package.platform, package.platform)
    school = package.school_record.name or package.school
    what = (
        "перенос всего журнала школы (миграция); CSV-файлы в режиме bulk — полный набор"
        if package.scope == "journal"
        else "изменения, которые нужно загрузить; CSV-файлы в режиме delta "
        "(status = active — добавить или изменить, tobedeleted — удалить)"
    )
    journals = sorted(n for n in files if n.startswith("journal/"))
    lines = [
        f"Пакет для загрузки в {platform}",
        f"Школа: {school}",
        f"Сформирован: {_stamp(package)}",
        f"Содержание: {what}.",
        "",
        "Записи в пакете: "
        + ", ".join(
            f"{label} — {counts.get(entity, 0)}"
            for entity, label in (
                ("mark", "отметок"),
                ("final_mark", "итоговых отметок"),
                ("attendance", "записей посещаемости"),
                ("lesson", "тем уроков"),
                ("homework", "домашних заданий"),
            )
        )
        + ".",
    ]
    if package.unresolved:
        lines.append(
            f"Для {package.unresolved} записей не удалось определить урок, класс или ученика: "
            "сверьте их с журналом школы."
        )
    lines += [
        "",
        "Порядок загрузки:",
        "1. Набор OneRoster 1.2 (manifest.csv и файлы CSV в корне архива) загрузите через "
        "импорт OneRoster платформы. Отметки — в results.csv (score — отметка 1–5, textScore — "
        "«зачёт», «незачёт», «осв.», «н/а», «·» — точка); работы — в lineItems.csv (дата урока, "
        "вид работы — categories.csv).",
        "2. Посещаемость, темы уроков и домашние задания в OneRoster не передаются: внесите их "
        "по файлам журнала в папке journal/ (по файлу на класс, лист на предмет, лист «Темы "
        "уроков»).",
        "3. После загрузки запустите синхронизацию: journalsync сверит внесённые записи "
        "с платформой, расхождения будут показаны в отчёте.",
        "",
        "sourcedId — постоянные идентификаторы journalsync: повторная загрузка того же пакета "
        "обновляет записи, а не создаёт новые. Персональные данные сведены к минимуму: только "
        "ФИО учеников и учителей, без дат рождения и контактов.",
        "",
        "Значение, которое начинается с «=», «+», «-», «@», табуляции или возврата каретки "
        "(и не является числом), записано в CSV с апострофом «'» впереди, чтобы таблица не "
        "приняла его за формулу; при загрузке уберите этот апостроф. В XLSX такие значения "
        "записаны как текст, без изменений.",
        "",
        "Файлы CSV: " + ", ".join(csv_names),
        "Файлы журнала: " + (", ".join(journals) if journals else "нет"),
        "",
        "Контрольные суммы SHA-256:",
        *(f"{hashlib.sha256(files[n]).hexdigest()}  {n}" for n in sorted(files)),
    ]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def package_files(package: Package) -> dict[str, bytes]:
    """Every file of the package by its path inside the zip, README first."""
    tables = csv_tables(package)
    files: dict[str, bytes] = {name: _csv_bytes(rows) for name, rows in tables.items()}
    school = package.school_record.name or package.school
    meta = [
        f"Школа: {school}",
        f"Платформа: {PLATFORM_NAMES.get(package.platform, package.platform)}",
        f"Сформирован: {_stamp(package)}",
    ]
    for name, docs in class_workbooks(package, meta).items():
        files[name] = _xlsx_bytes(docs, package.generated_at)
    return {"README.txt": _readme(package, files, list(tables)), **files}


def package_bytes(package: Package) -> bytes:
    """The package as zip bytes (identical for identical input)."""
    return _zip(package_files(package).items(), _zip_time(package.generated_at))


def write_package(package: Package, path: str | Path) -> Path:
    """Write the package zip to ``path`` (a directory gets ``package.file_name()`` in it)."""
    out = Path(path)
    if out.is_dir():
        out = out / package.file_name()
    write_private(out, package_bytes(package))  # owner-only: pupils' names and marks
    return out
