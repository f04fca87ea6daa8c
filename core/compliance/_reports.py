"""The school reports, as :class:`core.documents.TableDocument` (XLSX, PDF) — in Russian.

Each builder takes a school's :class:`JournalFrame` (and, for the compliance and timeliness
reports, the :class:`ComplianceResult`) and returns documents; rendering is elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import orjson

from core.codes import MARK_LABELS, AttendanceCode, MarkValue
from core.compliance._catalogue import RULES
from core.compliance._citations import cite, profile_name, rule_name, source_name
from core.compliance._engine import ComplianceResult
from core.compliance._frame import ATTENDANCE_CODES, MARK_NUMERIC, MARK_VALUES, JournalFrame
from core.compliance._types import SEVERITY_LABELS, Finding
from core.documents import Cell, Column, Section, TableDocument, local_time
from core.errors import ConfigError

__all__ = [
    "attendance_summary",
    "class_results",
    "compliance_report",
    "find_period",
    "forecast",
    "report_card",
    "summary_checksum",
    "summary_sheet",
    "timeliness",
]

_FAILING = {MarkValue.ONE, MarkValue.TWO, MarkValue.FAIL, MarkValue.NOT_ATTESTED, MarkValue.DOT}


def find_period(frame: JournalFrame, text: str) -> int:
    """A period by its ordinal («1»), name («1 четверть»), kind («year») or id."""
    wanted = text.strip().lower()
    for i, p in enumerate(frame.periods):
        if wanted in (p.id.lower(), p.name.lower(), p.kind) or (
            wanted.isdigit() and p.kind != "year" and int(wanted) == p.ordinal
        ):
            return i
    known = ", ".join(p.label for p in frame.periods) or "нет периодов"
    raise ConfigError(f"unknown period {text!r}; the school has: {known}")


def _meta(frame: JournalFrame, *extra: str) -> list[str]:
    year = f"{frame.year}/{frame.year + 1}" if frame.year else "—"
    return [f"Школа: {frame.school_name}", f"Учебный год: {year}", *extra]


def _label(value_index: int) -> str:
    return MARK_LABELS[MARK_VALUES[value_index]]


# -- compliance -----------------------------------------------------------------------------


def compliance_report(
    results: Sequence[ComplianceResult],
    frames: Sequence[JournalFrame] = (),
    *,
    timezone: str = "Europe/Moscow",
) -> TableDocument:
    """Findings by rule, for one school or across a municipality, and what was not checked.

    ``frames`` (the schools' data, in the order of ``results``) name the class and teacher of a
    finding that came without them (a late period final names only the student and subject).
    Times are in ``timezone`` (the school's, from the config); rules, profiles and clauses are
    named in Russian, the regulation by its own title.
    """
    many = len(results) > 1
    cols = [
        Column("Школа", 18) if many else None,
        Column("Класс", 6),
        Column("Предмет", 16),
        Column("Учитель", 16),
        Column("Обучающийся", 16),
        Column("Дата", 9),
        Column("Период", 9),
        Column("Значение", 8, "right"),
        Column("Норма", 7, "right"),
        Column("Описание", 40, wrap=True),
    ]
    columns = [c for c in cols if c is not None]
    sections: list[Section] = []
    used = {r for res in results for r in res.checked} | {
        f.rule for res in results for f in res.findings
    }
    rules = [r for r in RULES if r in used] + sorted(used - set(RULES))
    fillers = [_Filler(frames[i] if i < len(frames) else None) for i in range(len(results))]
    for rule in rules:
        rows: list[list[Cell]] = []
        for res, fill in zip(results, fillers, strict=True):
            for f in res.findings:
                if f.rule != rule:
                    continue
                class_name, teacher = fill(f)
                row: list[Cell] = [
                    class_name,
                    f.subject,
                    teacher,
                    f.student,
                    f.day,
                    f.period,
                    f.value,
                    f.limit,
                    cite(f.message),
                ]
                prefix: list[Cell] = [res.school_name] if many else []
                rows.append(prefix + row)
        clauses = sorted(
            {cite(f.clause) for res in results for f in res.findings if f.rule == rule}
        )
        sev = SEVERITY_LABELS[RULES[rule].severity] if rule in RULES else ""
        heading = f"{rule_name(rule)} — {sev}; найдено: {len(rows)}" + (
            f" ({'; '.join(clauses)})" if clauses else ""
        )
        sections.append(
            Section(rows if rows else [_blank(len(columns), "нарушений не найдено")], heading)
        )
    skipped = [(res, n) for res in results for n in res.not_checked]
    if skipped:
        rows = []
        for res, n in skipped:
            row = _blank(
                len(columns),
                f"{rule_name(n.rule)}: {cite(n.reason)} (источник данных: "
                f"{source_name(n.platform)})",
            )
            if many:
                row[0] = res.school_name
            rows.append(row)
        sections.append(Section(rows, "Не проверено или проверено частично"))
    first = results[0] if results else None
    meta = [
        (f"Школ: {len(results)}" if many else f"Школа: {first.school_name}") if first else "",
        "Профиль проверки: " + "; ".join(sorted({profile_name(r.profile) for r in results})),
        "Источник данных: " + "; ".join(sorted({source_name(r.platform) for r in results})),
        f"Дата проверки: {local_time(first.as_of, timezone)}" if first else "",
        f"Найдено нарушений: {sum(len(r.findings) for r in results)}",
    ]
    return TableDocument(
        title="Отчёт о соблюдении правил ведения электронного журнала",
        columns=columns,
        sections=sections,
        meta=[m for m in meta if m],
        signatures=("Заместитель директора по УВР",),
        sheet_name="Нарушения",
        landscape=True,
    )


class _Filler:
    """The class and teacher of a finding, from the school's data where the rule left them out
    (a student's class; the teacher of that class's group in the subject)."""

    def __init__(self, frame: JournalFrame | None) -> None:
        self._class: dict[str, str] = {}
        self._teacher: dict[tuple[str, str], str] = {}
        if frame is None:
            return
        for c, students in enumerate(frame.class_students):
            for s in students.tolist():
                self._class.setdefault(frame.person_names[s], frame.class_names[c])
        for g in range(len(frame.group_ids)):
            t = int(frame.group_teacher[g])
            if t < 0:
                continue
            key = (
                frame.class_names[int(frame.group_class[g])],
                frame.subject_names[int(frame.group_subject[g])],
            )
            self._teacher.setdefault(key, frame.person_names[t])

    def __call__(self, f: Finding) -> tuple[str, str]:
        class_name = f.class_name or self._class.get(f.student, "")
        teacher = f.teacher or self._teacher.get((class_name, f.subject), "")
        return class_name, teacher


def _blank(width: int, text: str) -> list[Cell]:
    row: list[Cell] = [None] * width
    row[-1] = text
    return row


# -- сводная ведомость итоговых оценок -------------------------------------------------------


def summary_checksum(payload: object) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def summary_sheet(frame: JournalFrame, class_name: str | None = None) -> list[TableDocument]:
    """Period and year finals per class (kept 25 years: school, class, year, signatures,
    and a SHA-256 checksum of the sheet's data)."""
    periods = [i for i, p in enumerate(frame.periods) if p.kind not in ("exam", "final")]
    docs = []
    for c, name in enumerate(frame.class_names):
        if class_name is not None and name != class_name:
            continue
        students = frame.class_students[c].tolist()
        subjects = sorted(
            {int(frame.group_subject[g]) for g in np.flatnonzero(frame.group_class == c).tolist()},
            key=lambda s: frame.subject_names[s],
        )
        finals: dict[tuple[int, int, int], str] = {}
        for s, subj, p, v in zip(
            frame.f_student.tolist(),
            frame.f_subject.tolist(),
            frame.f_period.tolist(),
            frame.f_value.tolist(),
            strict=True,
        ):
            finals[(s, subj, p)] = _label(v)
        rows: list[list[Cell]] = []
        for n, s in enumerate(sorted(students, key=lambda i: frame.person_names[i]), 1):
            cells = [
                " / ".join(finals.get((s, subj, p), "—") for p in periods) for subj in subjects
            ]
            rows.append([n, frame.person_names[s], *cells])
        order = ", ".join(frame.periods[p].label for p in periods)
        payload = {
            "school": frame.school,
            "class": name,
            "year": frame.year,
            "periods": [frame.periods[p].label for p in periods],
            "subjects": [frame.subject_names[s] for s in subjects],
            "rows": rows,
        }
        checksum = summary_checksum(payload)
        docs.append(
            TableDocument(
                title="Сводная ведомость итоговых оценок",
                columns=[Column("№", 4, "right"), Column("Обучающийся", 22)]
                + [Column(frame.subject_names[s], 12, "center", wrap=True) for s in subjects],
                sections=[Section(rows)],
                meta=_meta(
                    frame, f"Класс: {name}", f"Отметки в ячейке: {order}", "Срок хранения: 25 лет"
                ),
                note=f"Контрольная сумма данных ведомости (SHA-256): {checksum}",
                signatures=("Директор", "Классный руководитель"),
                sheet_name=f"Ведомость {name}",
                landscape=True,
                running_head=f"Класс: {name}",
                extra={"checksum": checksum},
            )
        )
    return docs


# -- class results, report card, attendance, forecast -------------------------------------------


def class_results(frame: JournalFrame, period: int) -> TableDocument:
    """Успеваемость, качество знаний and the average mark per class, from the period finals."""
    rows: list[list[Cell]] = []
    mine = frame.f_period == period
    for c, name in enumerate(frame.class_names):
        students = set(frame.class_students[c].tolist())
        sel = mine & np.isin(frame.f_student, frame.class_students[c])
        if not students or not sel.any():
            rows.append([name, len(students), 0, None, None, None, "итоговых отметок нет"])
            continue
        by_student: dict[int, list[MarkValue]] = {}
        for s, v in zip(frame.f_student[sel].tolist(), frame.f_value[sel].tolist(), strict=True):
            by_student.setdefault(s, []).append(MARK_VALUES[v])
        graded = len(by_student)
        passing = sum(all(v not in _FAILING for v in vs) for vs in by_student.values())
        good = sum(
            all(v in (MarkValue.FOUR, MarkValue.FIVE, MarkValue.PASS, MarkValue.EXEMPT) for v in vs)
            for vs in by_student.values()
        )
        nums = MARK_NUMERIC[frame.f_value[sel]]
        avg = round(float(nums[nums > 0].mean()), 2) if (nums > 0).any() else None
        rows.append(
            [
                name,
                len(students),
                graded,
                round(100 * passing / graded, 1),
                round(100 * good / graded, 1),
                avg,
                "",
            ]
        )
    return TableDocument(
        title="Итоги успеваемости по классам",
        columns=[
            Column("Класс", 7),
            Column("Обучающихся", 10, "right"),
            Column("Аттестовано", 10, "right"),
            Column("Успеваемость, %", 12, "right"),
            Column("Качество знаний, %", 12, "right"),
            Column("Средний балл", 10, "right"),
            Column("Примечание", 20),
        ],
        sections=[Section(rows)],
        meta=_meta(frame, f"Период: {frame.periods[period].label}"),
        note=(
            "Успеваемость — доля аттестованных без отметок «2», «1», «незачёт», «н/а»; качество "
            "знаний — доля аттестованных только на «4» и «5»."
        ),
        signatures=("Заместитель директора по УВР",),
        sheet_name="Итоги",
    )


def report_card(frame: JournalFrame, student: str, *, today: date) -> TableDocument:
    """Табель for a parent who asked for paper: finals by period, current average, absences.

    ``today`` is the date printed on it: the caller's clock reading in the school's time zone
    (the CLI passes the local date of ``--as-of`` or of now), never the machine's own date."""
    try:
        s = (
            frame.person_names.index(student)
            if student in frame.person_names
            else frame.person_ids.index(student)
        )
    except ValueError:
        raise ConfigError(f"no student {student!r} in school {frame.school}") from None
    periods = [i for i, p in enumerate(frame.periods) if p.kind not in ("exam", "final")]
    groups = [g for g in range(len(frame.group_ids)) if s in set(frame.group_members[g].tolist())]
    subjects = sorted(
        {int(frame.group_subject[g]) for g in groups}, key=lambda x: frame.subject_names[x]
    )
    finals = {
        (subj, p): _label(v)
        for st, subj, p, v in zip(
            frame.f_student.tolist(),
            frame.f_subject.tolist(),
            frame.f_period.tolist(),
            frame.f_value.tolist(),
            strict=True,
        )
        if st == s
    }
    mine = frame.m_student == s
    m_subject = frame.group_subject[frame.l_group[frame.m_lesson]]
    absent = (frame.a_student == s) & np.isin(
        frame.a_code, _codes(AttendanceCode.ABSENT, AttendanceCode.EXCUSED, AttendanceCode.ILL)
    )
    a_subject = frame.group_subject[frame.l_group[frame.a_lesson]]
    rows: list[list[Cell]] = []
    for subj in subjects:
        sel = mine & (m_subject == subj)
        nums = MARK_NUMERIC[frame.m_value[sel]]
        avg = round(float(nums[nums > 0].mean()), 2) if (nums > 0).any() else None
        rows.append(
            [frame.subject_names[subj]]
            + [finals.get((subj, p), "") for p in periods]
            + [avg, int((absent & (a_subject == subj)).sum())]
        )
    cls = next(
        (
            frame.class_names[c]
            for c, st in enumerate(frame.class_students)
            if s in set(st.tolist())
        ),
        "",
    )
    return TableDocument(
        title="Табель успеваемости",
        columns=[Column("Предмет", 22)]
        + [Column(frame.periods[p].label, 9, "center") for p in periods]
        + [Column("Средний балл (текущие)", 10, "right"), Column("Пропущено уроков", 9, "right")],
        sections=[Section(rows)],
        meta=_meta(
            frame,
            f"Обучающийся: {frame.person_names[s]}",
            f"Класс: {cls}",
            f"Дата: {today:%d.%m.%Y}",
        ),
        signatures=("Классный руководитель", "Родитель (законный представитель)"),
        sheet_name="Табель",
        running_head=f"{frame.person_names[s]}, класс {cls}" if cls else frame.person_names[s],
    )


def _codes(*codes: AttendanceCode) -> npt.NDArray[np.int8]:
    return np.array([ATTENDANCE_CODES.index(c) for c in codes], dtype=np.int8)


def attendance_summary(frame: JournalFrame, period: int) -> TableDocument:
    """Absences per student per class in a period: total, illness, excused, unexcused, late."""
    per = frame.periods[period]
    in_p = (frame.l_day[frame.a_lesson] >= per.start) & (frame.l_day[frame.a_lesson] <= per.end)
    kinds = {
        "ill": _codes(AttendanceCode.ILL),
        "exc": _codes(AttendanceCode.EXCUSED),
        "abs": _codes(AttendanceCode.ABSENT),
        "late": _codes(AttendanceCode.LATE),
    }
    lessons_in = (frame.l_day >= per.start) & (frame.l_day <= per.end)
    sections = []
    for c, name in enumerate(frame.class_names):
        rows: list[list[Cell]] = []
        for n, s in enumerate(
            sorted(frame.class_students[c].tolist(), key=lambda i: frame.person_names[i]), 1
        ):
            held = sum(
                int((lessons_in & (frame.l_group == g)).sum())
                for g in range(len(frame.group_ids))
                if int(frame.group_class[g]) == c and s in set(frame.group_members[g].tolist())
            )
            mine = in_p & (frame.a_student == s)
            counts = {k: int((mine & np.isin(frame.a_code, v)).sum()) for k, v in kinds.items()}
            missed = counts["ill"] + counts["exc"] + counts["abs"]
            share = round(100 * missed / held, 1) if held else None
            rows.append(
                [
                    n,
                    frame.person_names[s],
                    held,
                    missed,
                    counts["ill"],
                    counts["exc"],
                    counts["abs"],
                    counts["late"],
                    share,
                ]
            )
        if rows:
            sections.append(Section(rows, f"Класс {name}"))
    return TableDocument(
        title="Сводная ведомость учёта посещаемости",
        columns=[
            Column("№", 4, "right"),
            Column("Обучающийся", 22),
            Column("Уроков", 8, "right"),
            Column("Пропущено", 9, "right"),
            Column("По болезни", 9, "right"),
            Column("Уважит.", 8, "right"),
            Column("Без уважит.", 9, "right"),
            Column("Опоздания", 9, "right"),
            Column("% пропусков", 9, "right"),
        ],
        sections=sections,
        meta=_meta(frame, f"Период: {per.label}"),
        signatures=("Классный руководитель",),
        sheet_name="Посещаемость",
    )


def timeliness(
    frame: JournalFrame, result: ComplianceResult, *, timezone: str = "Europe/Moscow"
) -> TableDocument:
    """Per teacher: lessons, late or missing topics and homework, late and retroactive marks."""
    held = frame.l_day <= result.as_of.date().toordinal()
    teachers = sorted(
        {int(t) for t in frame.l_teacher[held].tolist() if t >= 0},
        key=lambda t: frame.person_names[t],
    )
    counts: dict[tuple[str, str], int] = {}
    fill = _Filler(frame)  # a late final names no teacher: the class's teacher of the subject
    for f in result.findings:
        teacher = fill(f)[1]
        counts[(teacher, f.rule)] = counts.get((teacher, f.rule), 0) + 1
    rows: list[list[Cell]] = []
    for t in teachers:
        name = frame.person_names[t]
        n = int((held & (frame.l_teacher == t)).sum())
        topics = counts.get((name, "lessons.topic_deadline"), 0)
        rows.append(
            [
                name,
                n,
                topics,
                round(100 * (n - topics) / n, 1) if n else None,
                counts.get((name, "homework.deadline"), 0),
                counts.get((name, "marks.written_deadline"), 0)
                + counts.get((name, "marks.retroactive"), 0),
                counts.get((name, "finals.deadline"), 0),
            ]
        )
    not_checked = sorted({n.rule for n in result.not_checked})
    return TableDocument(
        title="Своевременность заполнения электронного журнала учителями",
        columns=[
            Column("Учитель", 22),
            Column("Уроков", 8, "right"),
            Column("Темы: поздно / нет", 10, "right"),
            Column("Темы вовремя, %", 10, "right"),
            Column("ДЗ поздно", 9, "right"),
            Column("Отметки поздно / задним числом", 12, "right"),
            Column("Итоговые поздно / нет", 10, "right"),
        ],
        sections=[Section(rows)],
        meta=_meta(
            frame,
            f"На дату: {local_time(result.as_of, timezone)}",
            f"Профиль проверки: {profile_name(result.profile)}",
            f"Источник данных: {source_name(result.platform)}",
        ),
        note=("Не проверено: " + "; ".join(rule_name(r) for r in not_checked))
        if not_checked
        else "",
        signatures=("Заместитель директора по УВР",),
        sheet_name="Своевременность",
    )


def forecast(
    frame: JournalFrame, period: int, thresholds: tuple[float, float, float] = (2.5, 3.5, 4.5)
) -> list[TableDocument]:
    """The period final each student is heading for: the weighted average of current marks
    (weights of the work types), rounded by the school's thresholds for «3», «4», «5»."""
    per = frame.periods[period]
    m_day = frame.l_day[frame.m_lesson]
    nums = MARK_NUMERIC[frame.m_value].astype(np.float64)
    sel = (m_day >= per.start) & (m_day <= per.end) & (nums > 0)
    m_group = frame.l_group[frame.m_lesson]
    docs = []
    for c, name in enumerate(frame.class_names):
        groups = [g for g in range(len(frame.group_ids)) if int(frame.group_class[g]) == c]
        if not groups or not frame.class_students[c].size:
            continue
        subjects = sorted(
            {int(frame.group_subject[g]) for g in groups}, key=lambda s: frame.subject_names[s]
        )
        rows: list[list[Cell]] = []
        for n, s in enumerate(
            sorted(frame.class_students[c].tolist(), key=lambda i: frame.person_names[i]), 1
        ):
            cells: list[Cell] = []
            for subj in subjects:
                gsel = (
                    sel
                    & (frame.m_student == s)
                    & np.isin(m_group, [g for g in groups if int(frame.group_subject[g]) == subj])
                )
                w = frame.m_weight[gsel].astype(np.float64)
                if not gsel.any() or w.sum() <= 0:
                    cells.append("—")
                    continue
                avg = float((nums[gsel] * w).sum() / w.sum())
                mark = 2 + sum(avg >= t for t in thresholds)
                cells.append(f"{avg:.2f} → {mark}".replace(".", ","))
            rows.append([n, frame.person_names[s], *cells])
        docs.append(
            TableDocument(
                title="Прогноз итоговых отметок",
                columns=[Column("№", 4, "right"), Column("Обучающийся", 22)]
                + [Column(frame.subject_names[s], 11, "center") for s in subjects],
                sections=[Section(rows)],
                meta=_meta(frame, f"Класс: {name}", f"Период: {per.label}"),
                note=(
                    "Средневзвешенный балл текущих отметок периода (веса — по типам заданий) "
                    f"и прогноз: «3» от {thresholds[0]:g}, «4» от {thresholds[1]:g}, "
                    f"«5» от {thresholds[2]:g}."
                ),
                sheet_name=f"Прогноз {name}",
                running_head=f"Класс: {name}, {per.label}",
                landscape=len(subjects) > 6,
            )
        )
    return docs
