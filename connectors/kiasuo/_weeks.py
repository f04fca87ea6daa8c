"""ISO-8601 weeks, as ``/api/schedule?year=&week=`` means them (note §4.4).

K1 uses Go's ``time.ISOWeek()``; Python bots that send the calendar year break around New Year
(2026-12-28 … 2027-01-03 is ISO week 2026-W53; 2024-12-30 is already 2025-W01).
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["IsoWeek", "iso_week", "week_monday", "weeks_between"]

IsoWeek = tuple[int, int]  # (ISO week-numbering year, week)


def iso_week(day: date) -> IsoWeek:
    y, w, _ = day.isocalendar()
    return y, w


def week_monday(week: IsoWeek) -> date:
    return date.fromisocalendar(week[0], week[1], 1)


def weeks_between(start: date, end: date) -> list[IsoWeek]:
    """Every ISO week that has a day in ``[start, end]``, in order."""
    out: list[IsoWeek] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        out.append(iso_week(monday))
        monday += timedelta(weeks=1)
    return out
