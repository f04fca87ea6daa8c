"""The migration's documents for the school, in Russian: the plan's summary (XLSX) and the
certificate (JSON + a printable PDF with signature lines).

No ids and no file names in what a person reads: records are described by class, subject, date,
lesson and pupil; times are in the school's zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.codes import ATTENDANCE_LABELS, MARK_LABELS, AttendanceCode, MarkValue
from core.documents import Cell, Column, Section, TableDocument, local_time, write_pdf, write_xlsx
from core.files import write_private
from core.migrate._plan import JOURNAL_ORDER, ROSTER_ORDER, MigrationPlan
from core.model import (
    AcademicYear,
    ClassUnit,
    FinalMark,
    Group,
    Homework,
    Lesson,
    Period,
    Person,
    Record,
    Subject,
)

__all__ = [
    "ENTITY_TITLES",
    "Describer",
    "plan_meta",
    "write_certificate",
    "write_plan_files",
]

ENTITY_TITLES: Mapping[str, str] = {
    "academic_year": "Учебные годы",
    "period": "Учебные периоды",
    "class_unit": "Классы",
    "subject": "Предметы",
    "group": "Группы (класс × предмет)",
    "person": "Ученики и учителя",
    "lesson": "Уроки (темы)",
    "mark": "Отметки",
    "attendance": "Посещаемость",
    "homework": "Домашние задания",
    "final_mark": "Итоговые отметки",
}
_PERIOD_KINDS = {
    "quarter": "четверть",
    "trimester": "триместр",
    "half_year": "полугодие",
    "semester": "семестр",
    "year": "год",
    "exam": "аттестация",
    "final": "итог",
    "module": "модуль",
}
_ROSTER_STATE = {
    "matched": "сопоставлено",
    "needed": "нет на целевой платформе",
    "pending": "ждёт решения в файле сверки",
    "rejected": "отклонено при сверке",
}


class Describer:
    """Describes a record for a person — «отметка 5 · 5А, Математика, 12.09.2026, урок 2 ·
    Иванов И. И.» — from both bindings' snapshots (never an id)."""

    def __init__(self, *snapshots: Mapping[str, Iterable[Record]]) -> None:
        self.by_id: dict[str, Record] = {}
        for snap in snapshots:
            for entity in (
                "academic_year",
                "person",
                "class_unit",
                "subject",
                "group",
                "lesson",
                "period",
            ):
                for r in snap.get(entity, ()):
                    self.by_id.setdefault(r.id, r)
        self.source_journal: dict[str, Record] = {}

    def remember(self, records: Iterable[Record]) -> None:
        for r in records:
            self.source_journal[r.id] = r

    def _name(self, rid: str | None) -> str:
        r = self.by_id.get(rid or "")
        if isinstance(r, Person):
            return r.short_name
        if isinstance(r, ClassUnit):
            return r.name
        if isinstance(r, Subject):
            return r.name
        if isinstance(r, Group):
            sub = f", подгруппа {r.subgroup}" if r.subgroup else ""
            return f"{self._name(r.class_id)}, {self._name(r.subject_id)}{sub}"
        if isinstance(r, Lesson):
            return f"{self._name(r.group_id)}, {r.date:%d.%m.%Y}, урок {r.number}"
        if isinstance(r, Period):
            return r.name or f"{_PERIOD_KINDS.get(r.kind, r.kind)} {r.ordinal}"
        if isinstance(r, AcademicYear):
            return f"{r.start_year}/{r.start_year + 1} учебный год"
        return "—"

    def __call__(self, entity: str, source_id: str, record: Record | None) -> str:
        rec = record or self.source_journal.get(source_id)
        if rec is None:
            return ENTITY_TITLES.get(entity, entity)
        if isinstance(rec, Lesson):
            return f"урок: {self._name(rec.id) if rec.id in self.by_id else _lesson(rec, self)}"
        lesson = getattr(rec, "lesson_id", None)
        where = self._name(lesson) if lesson in self.by_id else "урок не найден"
        pupil = self._name(getattr(rec, "student_id", None))
        value = getattr(rec, "value", None)
        if isinstance(value, MarkValue) and not isinstance(rec, FinalMark):
            return f"отметка «{MARK_LABELS[value]}» · {where} · {pupil}"
        if isinstance(rec, FinalMark):
            return f"итоговая отметка · {self._name(rec.subject_id)} · {pupil}"
        code = getattr(rec, "code", None)
        if isinstance(code, AttendanceCode):
            return f"посещаемость «{ATTENDANCE_LABELS[code]}» · {where} · {pupil}"
        if isinstance(rec, Homework):
            return f"домашнее задание · {where}"
        if isinstance(rec, Person):
            return rec.short_name
        return self._name(rec.id)


def _lesson(rec: Lesson, d: Describer) -> str:
    return f"{d._name(rec.group_id)}, {rec.date:%d.%m.%Y}, урок {rec.number}"


def _summary_doc(plan: MigrationPlan, meta: Sequence[str]) -> TableDocument:
    counts = plan.counts()
    rows: list[list[Cell]] = []
    for entity in (*ROSTER_ORDER, *JOURNAL_ORDER):
        c = counts.get(entity)
        if c is None:
            continue
        if entity in ROSTER_ORDER:
            rows.append(
                [
                    ENTITY_TITLES[entity],
                    c["source"],
                    c.get("matched", 0),
                    c.get("needed", 0),
                    c.get("pending", 0),
                    c.get("rejected", 0),
                    "",
                    "",
                ]
            )
    journal: list[list[Cell]] = []
    for entity in JOURNAL_ORDER:
        c = counts.get(entity)
        if c is None:
            continue
        journal.append(
            [
                ENTITY_TITLES[entity],
                c["source"],
                c["add"],
                c["update"],
                c["conflict"],
                c["unchanged"],
                c["not_carried"],
                c["blocked"],
            ]
        )
    return TableDocument(
        title="План переноса журнала",
        meta=meta,
        columns=[
            Column("Вид записей", 28, wrap=True),
            Column("В источнике", 11, "right"),
            Column("Добавить / сопоставлено", 13, "right", wrap=True),
            Column("Изменить / нет на платформе", 13, "right", wrap=True),
            Column("Конфликт / ждёт решения", 13, "right", wrap=True),
            Column("Без изменений / отклонено", 13, "right", wrap=True),
            Column("Не переносится", 12, "right", wrap=True),
            Column("Нет соответствия", 12, "right", wrap=True),
        ],
        sections=[
            Section(rows, heading="Состав школы (сопоставление)"),
            Section(journal, heading="Журнал"),
        ],
        note=(
            "Конфликт: на целевой платформе уже стоит другое значение — оно не заменяется. "
            "Не переносится: целевая платформа не может хранить такую запись (причины — на "
            "листе «Причины»)."
        ),
        sheet_name="План",
        landscape=True,
    )


def _reasons_doc(plan: MigrationPlan) -> TableDocument:
    counts = plan.counts()
    per: dict[str, int] = {}
    for c in counts.values():
        for code, n in c.get("explained", {}).items():
            per[code] = per.get(code, 0) + n
    rows: list[list[Cell]] = [
        [plan.reasons[code].text, per[code]] for code in sorted(per) if code in plan.reasons
    ]
    return TableDocument(
        title="Пояснённые различия: что целевая платформа хранит иначе",
        columns=[Column("Причина", 80, wrap=True), Column("Записей", 10, "right")],
        sections=[Section(rows)],
        sheet_name="Причины",
        empty_text="Различий нет.",
    )


def _roster_doc(plan: MigrationPlan) -> TableDocument:
    rows: list[list[Cell]] = [
        [
            ENTITY_TITLES.get(r.entity, r.entity),
            r.label or "—",
            _ROSTER_STATE.get(r.state, r.state),
            "пакет для оператора платформы" if r.channel else "оператор платформы вручную",
        ]
        for r in plan.roster
        if r.state in ("needed", "pending")
    ]
    return TableDocument(
        title="Состав школы, которого нет на целевой платформе",
        columns=[
            Column("Вид", 22, wrap=True),
            Column("Что", 40, wrap=True),
            Column("Состояние", 24, wrap=True),
            Column("Как создать", 30, wrap=True),
        ],
        sections=[Section(rows)],
        sheet_name="Состав",
        empty_text="Всё сопоставлено.",
    )


def write_plan_files(
    out: Path, data: Mapping[str, Any], plan: MigrationPlan, meta: Sequence[str]
) -> tuple[Path, Path]:
    """``plan.json`` and the Russian summary ``plan.xlsx`` in ``out``."""
    json_path = out / "plan.json"
    write_private(json_path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    xlsx = write_xlsx(
        out / "plan.xlsx", _summary_doc(plan, meta), _reasons_doc(plan), _roster_doc(plan)
    )
    return json_path, xlsx


def plan_meta(
    school_name: str, source_title: str, target_title: str, at: datetime, timezone: str
) -> list[str]:
    return [
        f"Школа: {school_name}",
        f"Откуда: {source_title}",
        f"Куда: {target_title}",
        f"Составлен: {local_time(at, timezone)}",
    ]


def write_certificate(
    out: Path,
    cert: Mapping[str, Any],
    *,
    meta: Sequence[str],
) -> tuple[Path, Path]:
    """``certificate.json`` and the printable ``certificate.pdf`` in ``out``."""
    json_path = out / "certificate.json"
    write_private(json_path, json.dumps(cert, ensure_ascii=False, indent=1) + "\n")
    rows: list[list[Cell]] = []
    for entity, c in cert["entities"].items():
        explained = sum(c["explained"].values())
        rows.append(
            [
                ENTITY_TITLES.get(entity, entity),
                c["source"],
                c["target"],
                c["matched"],
                explained,
                c["awaited"],
                c["unexplained"],
            ]
        )
    verdict = (
        "Перенос завершён: каждое различие пояснено."
        if cert["complete"]
        else "Перенос не завершён: есть непояснённые различия или записи, ожидающие ввода."
    )
    main = TableDocument(
        title="Акт проверки переноса журнала",
        meta=[*meta, verdict],
        columns=[
            Column("Вид записей", 26, wrap=True),
            Column("В источнике", 11, "right"),
            Column("На целевой платформе", 12, "right", wrap=True),
            Column("Совпадает", 11, "right"),
            Column("Пояснено", 10, "right"),
            Column("Ожидает ввода", 10, "right", wrap=True),
            Column("Не пояснено", 10, "right", wrap=True),
        ],
        sections=[Section(rows)],
        landscape=True,
    )
    reason_rows: dict[str, int] = {}
    for c in cert["entities"].values():
        for code, n in c["explained"].items():
            reason_rows[code] = reason_rows.get(code, 0) + n
    texts = cert.get("reasons", {})
    reasons = TableDocument(
        title="Пояснённые различия",
        columns=[Column("Причина", 80, wrap=True), Column("Записей", 10, "right")],
        sections=[
            Section(
                [
                    [texts.get(code, {}).get("text", _generic(code)), n]
                    for code, n in sorted(reason_rows.items())
                ]
            )
        ],
        empty_text="Различий нет.",
        landscape=True,
    )
    awaited = TableDocument(
        title="Ожидает ввода на целевой платформе",
        columns=[Column("Вид записей", 30, wrap=True), Column("Что", 60, wrap=True)],
        sections=[
            Section(
                [
                    [
                        ENTITY_TITLES.get(a["entity"], a["entity"]),
                        a.get("what") or f"записей: {a.get('count', 0)}",
                    ]
                    for a in cert["awaited"]
                ]
            )
        ],
        empty_text="Ничего не ожидается.",
        landscape=True,
    )
    unexplained = TableDocument(
        title="Непояснённые различия",
        columns=[
            Column("Вид записей", 22, wrap=True),
            Column("Запись", 60, wrap=True),
            Column("Различие", 40, wrap=True),
        ],
        sections=[
            Section(
                [
                    [ENTITY_TITLES.get(u["entity"], u["entity"]), u["what"], u["why"]]
                    for u in cert["unexplained"]
                ]
            )
        ],
        empty_text="Непояснённых различий нет.",
        signatures=(
            "Директор школы",
            "Ответственный за перенос журнала",
            "Представитель оператора платформы",
        ),
        landscape=True,
    )
    pdf = out / "certificate.pdf"
    write_pdf(pdf, main, reasons, awaited, unexplained)
    return json_path, pdf


def _generic(code: str) -> str:
    if code == "rejected_by_operator":
        return "сопоставление отклонено при сверке"
    return code
