"""Checks over marks: accumulation, students without marks, grade 1, work types, entry times."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import numpy as np

from core.codes import WORK_TYPES, MarkValue
from core.compliance._frame import I32, I64, MARK_VALUES, WORK_TYPE_CODES, JournalFrame
from core.compliance._rule import (
    DAY,
    NO_TIMES,
    Context,
    Emit,
    day_start,
    deadline_epochs,
    ended_periods,
    local_ordinal,
)

__all__ = [
    "check_accumulation",
    "check_grade1",
    "check_none_or_single",
    "check_retroactive",
    "check_work_type",
    "check_written_deadline",
]

#: Values that are marks for accumulation (ОСВ, Н/А and «точка» are not).
_COUNTED = np.array(
    [v not in (MarkValue.EXEMPT, MarkValue.NOT_ATTESTED, MarkValue.DOT) for v in MARK_VALUES]
)
_WRITTEN = np.array([WORK_TYPES[c].written for c in WORK_TYPE_CODES] + [False])


def _group_period_counts(
    f: JournalFrame, until_day: int
) -> tuple[I32, I32, Mapping[int, int], int, int]:
    """(lesson period, lessons per group×period, marks per group×period×student, P, S)."""
    lp = f.lesson_period()
    lp = np.where(f.l_day <= until_day, lp, -1)
    n_p = max(len(f.periods), 1)
    n_s = max(len(f.person_ids), 1)
    ok = lp >= 0
    gp = f.l_group[ok].astype(np.int64) * n_p + lp[ok]
    lessons = np.bincount(gp, minlength=len(f.group_ids) * n_p).astype(np.int32)
    m_lp = lp[f.m_lesson]
    counted = _COUNTED[f.m_value] & (m_lp >= 0)
    keys = (
        f.l_group[f.m_lesson][counted].astype(np.int64) * n_p + m_lp[counted]
    ) * n_s + f.m_student[counted]
    uniq, cnt = np.unique(keys, return_counts=True)
    counts = dict(zip(uniq.tolist(), cnt.tolist(), strict=True))
    return lp, lessons, counts, n_p, n_s


def _student_counts(
    f: JournalFrame, g: int, p: int, counts: Mapping[int, int], n_p: int, n_s: int
) -> Iterator[tuple[int, int]]:
    base = (g * n_p + p) * n_s
    for s in f.group_members[g].tolist():
        yield s, counts.get(base + s, 0)


def check_accumulation(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Marks per student per period against what the hours (or the lesson count) require."""
    periods = ended_periods(f, ctx, prm.get("period_kinds"))
    if not periods:
        return
    _, lessons, counts, n_p, n_s = _group_period_counts(f, ctx.as_of_day)
    min_grade = int(prm.get("min_grade", 2))
    per_lessons = prm.get("lessons_per_mark")
    for p in periods:
        per = f.periods[p]
        span = (date.fromordinal(per.start), date.fromordinal(per.end))
        weeks = max(ctx.calendar.working_days_between(*span) / 5, 1)
        for g in range(len(f.group_ids)):
            n_lessons = int(lessons[g * n_p + p])
            c = int(f.group_class[g])
            if n_lessons == 0 or c < 0 or int(f.class_grade[c]) < min_grade:
                continue
            if per_lessons:
                need = n_lessons // int(per_lessons)
                why = f"уроков в периоде {n_lessons}: нужна отметка раз в {per_lessons} урока"
            else:
                subject = f.subject_names[int(f.group_subject[g])]
                planned = ctx.curriculum.get((int(f.class_grade[c]), subject))
                hours = planned or round(n_lessons / weeks, 1)
                extra = max(0, math.ceil(hours - float(prm.get("base_hours", 2)) - 1e-9))
                need = int(prm.get("base", 3)) + extra * int(prm.get("per_extra_hour", 1))
                why = f"{hours:g} ч в неделю"
            for s, n in _student_counts(f, g, p, counts, n_p, n_s):
                if n < need:
                    emit(
                        group=g,
                        student=s,
                        period=p,
                        value=n,
                        limit=need,
                        message=f"{n} отм. за период при необходимых {need} ({why})",
                    )


def check_none_or_single(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Students with no mark or a single mark in a period so far (monitoring, 001 §3.7)."""
    _, lessons, counts, n_p, n_s = _group_period_counts(f, ctx.as_of_day)
    min_lessons = int(prm.get("min_lessons", 5))
    min_grade = int(prm.get("min_grade", 2))
    for p, per in enumerate(f.periods):
        if per.start > ctx.as_of_day or per.kind in ("year", "exam", "final"):
            continue
        for g in range(len(f.group_ids)):
            c = int(f.group_class[g])
            if int(lessons[g * n_p + p]) < min_lessons or int(f.class_grade[c]) < min_grade:
                continue
            for s, n in _student_counts(f, g, p, counts, n_p, n_s):
                if n <= 1:
                    what = "нет отметок" if n == 0 else "одна отметка"
                    emit(group=g, student=s, period=p, value=n, limit=2, message=what)


def check_grade1(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Lessons of grade-1 classes (or other listed grades) carrying marks or homework."""
    grades = np.array(list(prm.get("grades", (1,))), dtype=np.int32)
    banned = np.isin(f.lesson_grade(), grades)
    per_lesson = np.bincount(f.m_lesson[banned[f.m_lesson]], minlength=len(f.l_day))
    per_lesson = per_lesson + np.bincount(f.h_lesson[banned[f.h_lesson]], minlength=len(f.l_day))
    for li in np.flatnonzero(per_lesson).tolist():
        n = int(per_lesson[li])
        emit(lesson=li, value=n, limit=0, message=f"отметки/домашнее задание в 1 классе: {n}")


def check_work_type(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Marks without a work type (or with one the profile counts as "unspecified")."""
    vague = [
        WORK_TYPE_CODES.index(c) for c in prm.get("unspecified", ("other",)) if c in WORK_TYPES
    ]
    bad = (f.m_wtype < 0) | np.isin(f.m_wtype, np.array(vague, dtype=np.int32))
    for mi in np.flatnonzero(bad).tolist():
        emit(
            lesson=int(f.m_lesson[mi]),
            student=int(f.m_student[mi]),
            value=1,
            limit=0,
            message="отметка без указания типа задания",
        )


def _days_after(f: JournalFrame, at: I64, lesson: I32, tz: int) -> I64:
    out: I64 = (local_ordinal(at, tz) - f.l_day[lesson]).astype(np.int64)
    return out


def check_written_deadline(
    f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit
) -> None:
    """Marks for written work entered more than ``days`` days after the work."""
    known = f.m_created >= 0
    if len(f.m_created) and not known.any():
        ctx.skip(f"время выставления отметок неизвестно: {NO_TIMES}")
        return
    days = int(prm.get("days", 7))
    written = _WRITTEN[f.m_wtype] & known
    late = _days_after(f, f.m_created, f.m_lesson, ctx.tz_offset)
    for mi in np.flatnonzero(written & (late > days)).tolist():
        n = int(late[mi])
        emit(
            lesson=int(f.m_lesson[mi]),
            student=int(f.m_student[mi]),
            value=n,
            limit=days,
            message=f"отметка за письменную работу выставлена через {n} дн.",
        )


def check_retroactive(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Marks entered after the entry deadline (written work: after its own term), or changed
    more than ``edit_days`` days after the lesson — «задним числом»."""
    if len(f.m_created) and not ((f.m_created >= 0).any() or (f.m_changed >= 0).any()):
        ctx.skip(f"время выставления и изменения отметок неизвестно: {NO_TIMES}")
        return
    deadline = deadline_epochs(
        f, np.arange(len(f.l_day), dtype=np.int32), prm["deadline"], ctx.tz_offset
    )
    written_end = day_start(f.l_day + int(prm.get("written_days", 7)) + 1, ctx.tz_offset)
    limit_at = np.where(_WRITTEN[f.m_wtype], written_end[f.m_lesson], deadline[f.m_lesson])
    created_late = (f.m_created >= 0) & (f.m_created > limit_at)
    edit_days = int(prm.get("edit_days", 3))
    edit_limit = day_start(f.l_day[f.m_lesson] + edit_days + 1, ctx.tz_offset)
    changed_late = (f.m_changed >= 0) & (f.m_changed > edit_limit)
    for mi in np.flatnonzero(created_late | changed_late).tolist():
        at = int(f.m_changed[mi]) if changed_late[mi] else int(f.m_created[mi])
        days = int((at - day_start(int(f.l_day[f.m_lesson[mi]]), ctx.tz_offset)) // DAY)
        what = "исправлена" if changed_late[mi] else "выставлена"
        emit(
            lesson=int(f.m_lesson[mi]),
            student=int(f.m_student[mi]),
            value=days,
            limit=edit_days if changed_late[mi] else 0,
            message=f"отметка {what} задним числом: через {days} дн. после урока",
        )
