"""Checks over marks: accumulation, students without marks, grade 1, work types, entry times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from core.codes import WORK_TYPES, MarkValue
from core.compliance._frame import I32, I64, MARK_VALUES, WORK_TYPE_CODES, JournalFrame
from core.compliance._rule import (
    DAY,
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


@dataclass(frozen=True, slots=True)
class _PupilPeriod:
    """One pupil × subject (of a class) × period: marks counted across every group of that
    subject the pupil belonged to, and the lessons of the pupil's busiest such group."""

    student: int
    group: int  # the pupil's group with most lessons in the period (names the finding)
    period: int
    lessons: int
    marks: int


def _pupil_periods(f: JournalFrame, until_day: int) -> list[_PupilPeriod]:
    """Marks per pupil × subject × period, across subgroup moves.

    A pupil belongs to a class's subject through today's roster *or* through any mark or
    attendance entry in one of its groups, so a pupil moved between subgroups (even at a term's
    end, as the regulations allow) keeps the marks of the old subgroup; counting per group
    through today's roster would report them with none. The lessons the pupil could be marked
    in are those of the pupil's group with most lessons in the period: never more than the
    pupil sat through, so a requirement derived from them is never overstated.
    """
    lp = f.lesson_period()
    lp = np.where(f.l_day <= until_day, lp, -1)
    n_g = len(f.group_ids)
    n_p = max(len(f.periods), 1)
    if n_g == 0:
        return []
    ok = (lp >= 0) & (f.l_group >= 0)
    lessons = np.bincount(
        f.l_group[ok].astype(np.int64) * n_p + lp[ok], minlength=n_g * n_p
    ).reshape(n_g, n_p)
    # class × subject of each group: the unit marks are counted in
    unit = f.group_class.astype(np.int64) * (len(f.subject_ids) + 1) + f.group_subject
    # pupil ↔ group links: roster, marks, attendance
    sizes = [len(m) for m in f.group_members]
    link_s = np.concatenate(
        [*(m.astype(np.int64) for m in f.group_members), f.m_student, f.a_student]
    ).astype(np.int64)
    link_g = np.concatenate(
        [
            np.repeat(np.arange(n_g, dtype=np.int64), sizes),
            f.l_group[f.m_lesson],
            f.l_group[f.a_lesson],
        ]
    ).astype(np.int64)
    links = np.unique((link_s * n_g + link_g)[(link_g >= 0) & (link_s >= 0)])
    # marks per pupil × unit × period
    m_lp = lp[f.m_lesson]
    counted = _COUNTED[f.m_value] & (m_lp >= 0) & (f.l_group[f.m_lesson] >= 0)
    m_key = zip(
        f.m_student[counted].tolist(),
        unit[f.l_group[f.m_lesson[counted]]].tolist(),
        m_lp[counted].tolist(),
        strict=True,
    )
    marks: dict[tuple[int, int, int], int] = {}
    for k in m_key:
        marks[k] = marks.get(k, 0) + 1
    best: dict[tuple[int, int, int], tuple[int, int]] = {}  # (s, unit, p) → (lessons, group)
    for key in links.tolist():
        s, g = divmod(key, n_g)
        row = lessons[g]
        for p in np.flatnonzero(row).tolist():
            k = (s, int(unit[g]), p)
            n = int(row[p])
            if k not in best or n > best[k][0]:
                best[k] = (n, g)
    return [
        _PupilPeriod(s, g, p, n, marks.get((s, u, p), 0))
        for (s, u, p), (n, g) in sorted(best.items())
    ]


def check_accumulation(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Marks per pupil × subject × period against what the hours (or the lesson count) need."""
    periods = set(ended_periods(f, ctx, prm.get("period_kinds")))
    if not periods:
        return
    min_grade = int(prm.get("min_grade", 2))
    per_lessons = prm.get("lessons_per_mark")
    weeks: dict[int, float] = {}
    for pp in _pupil_periods(f, ctx.as_of_day):
        p, g = pp.period, pp.group
        c = int(f.group_class[g])
        if p not in periods or c < 0 or int(f.class_grade[c]) < min_grade:
            continue
        if per_lessons:
            need = pp.lessons // int(per_lessons)
            why = f"уроков в периоде {pp.lessons}: нужна отметка раз в {per_lessons} урока"
        else:
            if p not in weeks:
                per = f.periods[p]
                span = (date.fromordinal(per.start), date.fromordinal(per.end))
                weeks[p] = max(ctx.calendar.working_days_between(*span) / 5, 1)
            subject = f.subject_names[int(f.group_subject[g])]
            planned = ctx.curriculum.get((int(f.class_grade[c]), subject))
            hours = planned or round(pp.lessons / weeks[p], 1)
            extra = max(0, math.ceil(hours - float(prm.get("base_hours", 2)) - 1e-9))
            need = int(prm.get("base", 3)) + extra * int(prm.get("per_extra_hour", 1))
            why = f"{hours:g} ч в неделю"
        if pp.marks < need:
            n = pp.marks
            emit(
                group=g,
                student=pp.student,
                period=p,
                value=n,
                limit=need,
                message=f"{n} отм. за период при необходимых {need} ({why})",
            )


def check_none_or_single(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Pupils with no mark or a single mark in a period so far (monitoring, 001 §3.7)."""
    min_lessons = int(prm.get("min_lessons", 5))
    min_grade = int(prm.get("min_grade", 2))
    for pp in _pupil_periods(f, ctx.as_of_day):
        per = f.periods[pp.period]
        if per.start > ctx.as_of_day or per.kind in ("year", "exam", "final"):
            continue
        c = int(f.group_class[pp.group])
        if pp.lessons < min_lessons or c < 0 or int(f.class_grade[c]) < min_grade:
            continue
        if pp.marks <= 1:
            what = "нет отметок" if pp.marks == 0 else "одна отметка"
            emit(
                group=pp.group,
                student=pp.student,
                period=pp.period,
                value=pp.marks,
                limit=2,
                message=what,
            )


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
        ctx.skip(f"время выставления отметок неизвестно: {ctx.no_times('mark')}")
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
        ctx.skip(f"время выставления и изменения отметок неизвестно: {ctx.no_times('mark')}")
        return
    deadline = deadline_epochs(
        f, np.arange(len(f.l_day), dtype=np.int32), prm["deadline"], ctx.tz_offset
    )
    written_end = day_start(f.l_day + int(prm.get("written_days", 7)) + 1, ctx.tz_offset)
    limit_at = np.where(_WRITTEN[f.m_wtype], written_end[f.m_lesson], deadline[f.m_lesson])
    created_late = (f.m_created >= 0) & (f.m_created > limit_at)
    # No edit window of its own (004 §4.2.4 forbids corrections «задним числом»): a change
    # after the entry deadline is one; else a change after ``edit_days`` days.
    raw_days = prm.get("edit_days")
    edit_days = -1 if raw_days is None else int(raw_days)
    edit_limit = (
        limit_at
        if raw_days is None
        else day_start(f.l_day[f.m_lesson] + edit_days + 1, ctx.tz_offset)
    )
    changed_late = (f.m_changed >= 0) & (f.m_changed > edit_limit)
    for mi in np.flatnonzero(created_late | changed_late).tolist():
        at = int(f.m_changed[mi]) if changed_late[mi] else int(f.m_created[mi])
        days = int((at - day_start(int(f.l_day[f.m_lesson[mi]]), ctx.tz_offset)) // DAY)
        what = "исправлена" if changed_late[mi] else "выставлена"
        emit(
            lesson=int(f.m_lesson[mi]),
            student=int(f.m_student[mi]),
            value=days,
            limit=max(edit_days, 0) if changed_late[mi] else 0,
            message=f"отметка {what} задним числом: через {days} дн. после урока",
        )
