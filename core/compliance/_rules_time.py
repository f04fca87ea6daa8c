"""Checks over time: entry deadlines, finals, absence reasons, subgroup moves, lesson counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from core.codes import AttendanceCode
from core.compliance._frame import ATTENDANCE_CODES, JournalFrame
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
    "check_curriculum_hours",
    "check_finals_deadline",
    "check_homework_deadline",
    "check_reason_fix",
    "check_subgroup_moves",
    "check_topic_deadline",
]

_FINAL_KINDS = ("quarter", "trimester", "half_year", "semester", "year")
_ABSENCE = np.array(
    [
        c in (AttendanceCode.ABSENT, AttendanceCode.EXCUSED, AttendanceCode.ILL)
        for c in ATTENDANCE_CODES
    ]
)


def _hours(seconds: int) -> float:
    return round(seconds / 3600, 1)


def check_topic_deadline(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Lesson topics entered after the profile's deadline, or still missing after it."""
    lessons = np.flatnonzero(f.l_day <= ctx.as_of_day).astype(np.int32)
    if not len(lessons):
        return
    deadline = deadline_epochs(f, lessons, prm["deadline"], ctx.tz_offset)
    has, at = f.l_has_topic[lessons], f.l_topic_at[lessons]
    if has.any() and not (at[has] >= 0).any():
        ctx.notes.append(
            f"время записи тем уроков неизвестно ({ctx.no_times('lesson')}): "
            "срок не проверен, проверено только их наличие"
        )
    late = has & (at >= 0) & (at > deadline)
    missing = ~has & (deadline < ctx.as_of_epoch)
    for i in np.flatnonzero(late).tolist():
        h = _hours(int(at[i] - deadline[i]))
        emit(
            lesson=int(lessons[i]),
            value=h,
            limit=0,
            message=f"тема урока записана с опозданием на {h} ч",
        )
    for i in np.flatnonzero(missing).tolist():
        emit(lesson=int(lessons[i]), value=0, limit=1, message="тема урока не записана")


def check_homework_deadline(
    f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit
) -> None:
    """Homework entered after the profile's deadline."""
    if len(f.h_at) and not (f.h_at >= 0).any():
        ctx.skip(f"время записи домашних заданий неизвестно: {ctx.no_times('homework')}")
        return
    deadline = deadline_epochs(f, f.h_lesson, prm["deadline"], ctx.tz_offset)
    late = (f.h_at >= 0) & (f.h_at > deadline)
    for i in np.flatnonzero(late).tolist():
        h = _hours(int(f.h_at[i] - deadline[i]))
        emit(
            lesson=int(f.h_lesson[i]),
            value=h,
            limit=0,
            message=f"домашнее задание записано с опозданием на {h} ч",
        )


def check_finals_deadline(
    f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit
) -> None:
    """Period finals entered after ``days_before`` days before the period's end (or, with
    ``window_days``, before the period's last week), and finals missing once that has passed."""
    before = int(prm.get("days_before", 0))
    window = prm.get("window_days")
    if len(f.f_at) and not (f.f_at >= 0).any():
        ctx.notes.append(
            f"время выставления итоговых отметок неизвестно ({ctx.no_times('final_mark')}): "
            "срок не проверен, проверено только наличие"
        )
    lesson_period = f.lesson_period()
    for p in ended_periods(f, ctx, prm.get("period_kinds", _FINAL_KINDS)):
        per = f.periods[p]
        deadline = int(day_start(per.end - before + 1, ctx.tz_offset)) - 1
        mine = np.flatnonzero(f.f_period == p)
        for i in mine.tolist():
            at = int(f.f_at[i])
            if at < 0:
                continue
            if at > deadline:
                days = (at - deadline) // DAY + 1
                emit(
                    student=int(f.f_student[i]),
                    subject=int(f.f_subject[i]),
                    period=p,
                    day=int(local_ordinal(at, ctx.tz_offset)),
                    value=days,
                    limit=before,
                    message=f"итоговая отметка выставлена с опозданием на {days} дн.",
                )
            elif window is not None and at < int(
                day_start(per.end - int(window) + 1, ctx.tz_offset)
            ):
                emit(
                    student=int(f.f_student[i]),
                    subject=int(f.f_subject[i]),
                    period=p,
                    day=int(local_ordinal(at, ctx.tz_offset)),
                    value=int(per.end - local_ordinal(at, ctx.tz_offset)),
                    limit=int(window),
                    message="итоговая отметка выставлена раньше последней недели периода",
                )
        if deadline >= ctx.as_of_epoch:
            continue
        # Who should have a final: members of the period's groups with lessons in it.
        whole = per.kind == "year"
        in_period = (np.ones(len(f.l_day), dtype=bool) if whole else lesson_period == p) & (
            (f.l_day >= per.start) & (f.l_day <= per.end)
        )
        have = set(zip(f.f_student[mine].tolist(), f.f_subject[mine].tolist(), strict=True))
        min_grade = int(prm.get("min_grade", 2))
        seen: set[tuple[int, int]] = set()
        for g in np.unique(f.l_group[in_period]).tolist():
            c, subj = int(f.group_class[g]), int(f.group_subject[g])
            if c < 0 or int(f.class_grade[c]) < min_grade:
                continue
            for s in f.group_members[g].tolist():
                if (s, subj) in have or (s, subj) in seen:
                    continue
                seen.add((s, subj))
                emit(
                    group=g,
                    student=s,
                    period=p,
                    day=per.end,
                    value=0,
                    limit=1,
                    message="итоговая отметка за период не выставлена",
                )


def check_reason_fix(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Absence reasons changed from «Н» more than ``working_days`` working days after the
    student came back (the day the document is presented, at the latest)."""
    days = int(prm.get("working_days", 2))
    absent_days: dict[int, set[int]] = {}
    absent = _ABSENCE[f.a_code]
    for s, li in zip(f.a_student[absent].tolist(), f.a_lesson[absent].tolist(), strict=True):
        absent_days.setdefault(s, set()).add(int(f.l_day[li]))
    cal = ctx.calendar
    for fix in f.reason_fixes:
        d = date.fromordinal(int(f.l_day[fix.lesson]))
        gone = absent_days.get(fix.student, set())
        back = cal.add_working_days(d, 1)
        while back.toordinal() in gone:
            back = cal.add_working_days(back, 1)
        due = cal.add_working_days(back, days)
        fixed_on = date.fromordinal(int(local_ordinal(fix.at, ctx.tz_offset)))
        if fixed_on > due:
            taken = cal.working_days_between(back, fixed_on) - 1
            emit(
                lesson=fix.lesson,
                student=fix.student,
                value=taken,
                limit=days,
                message=f"причина пропуска исправлена через {taken} раб. дн. после возвращения",
            )


def check_subgroup_moves(f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit) -> None:
    """Students moved between subgroups other than at a period's end (or the year's start)."""
    tolerance = int(prm.get("tolerance_days", 3))
    start_days = int(prm.get("start_days", 14))
    terms = [p for p in f.periods if p.kind not in ("year", "exam", "final")]
    first = min((p.start for p in terms), default=0)
    allowed: list[tuple[int, int]] = [(first - 366, first + start_days)]
    for i, p in enumerate(terms):
        nxt = terms[i + 1].start if i + 1 < len(terms) else p.end + tolerance
        allowed.append((p.end - tolerance, max(nxt, p.end + tolerance)))
    seen: set[tuple[int, int]] = set()
    for mv in f.group_moves:
        day = int(local_ordinal(mv.at, ctx.tz_offset))
        if any(a <= day <= b for a, b in allowed) or (mv.student, day) in seen:
            continue
        seen.add((mv.student, day))
        gap = min((abs(day - p.end) for p in terms), default=0)
        emit(
            group=mv.group,
            student=mv.student,
            day=day,
            value=gap,
            limit=tolerance,
            message=f"перевод в другую подгруппу не в конце периода ({gap} дн. до/после его конца)",
        )


def check_curriculum_hours(
    f: JournalFrame, ctx: Context, prm: Mapping[str, Any], emit: Emit
) -> None:
    """Lessons held in an ended period against the curriculum's weekly hours."""
    if not ctx.curriculum:
        ctx.skip("учебный план (часы в неделю по предметам) не задан в конфигурации")
        return
    share = float(prm.get("tolerance_share", 0.1))
    least = int(prm.get("tolerance_lessons", 1))
    lp = f.lesson_period()
    n_p = max(len(f.periods), 1)
    ok = lp >= 0
    counts = np.bincount(
        f.l_group[ok].astype(np.int64) * n_p + lp[ok], minlength=len(f.group_ids) * n_p
    )
    for p in ended_periods(f, ctx):
        per = f.periods[p]
        if per.kind in ("year", "exam", "final"):
            continue
        weeks = (
            ctx.calendar.working_days_between(
                date.fromordinal(per.start), date.fromordinal(per.end)
            )
            / 5
        )
        for g in range(len(f.group_ids)):
            c = int(f.group_class[g])
            hours = ctx.curriculum.get(
                (int(f.class_grade[c]), f.subject_names[int(f.group_subject[g])])
            )
            if hours is None:
                continue
            expected = round(hours * weeks)
            actual = int(counts[g * n_p + p])
            if abs(actual - expected) > max(least, expected * share):
                emit(
                    group=g,
                    period=p,
                    value=actual,
                    limit=expected,
                    message=f"проведено уроков {actual}, по учебному плану {expected}",
                )
