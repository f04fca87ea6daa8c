"""The Russian production calendar: which days are working days.

Deadlines in the regulations are counted in working days («2 рабочих дня», 002 §7.3), and a
working day is not simply Monday–Friday: public holidays (ТК РФ ст. 112) close weekdays, and the
Government's yearly decree moves days off, turning some Saturdays into working days. The decrees
are data here, not code; a year without a decree in the table falls back to the statute (the
fixed holidays, a holiday on a weekend moving to the next working day — January ones excepted,
as the statute says), and a municipality can add its own dates through the profile parameters
``extra_holidays`` / ``extra_workdays``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from functools import lru_cache

__all__ = ["ProductionCalendar"]


def _days(year: int, *md: str) -> frozenset[date]:
    out: set[date] = set()
    for item in md:
        if ".." in item:
            a, b = item.split("..")
            d, end = _md(year, a), _md(year, b)
            while d <= end:
                out.add(d)
                d += timedelta(days=1)
        else:
            out.add(_md(year, item))
    return frozenset(out)


def _md(year: int, md: str) -> date:
    m, d = md.split("-")
    return date(year, int(m), int(d))


#: Non-working days (holidays and the days off moved to by decree), per year.
_DECREED_OFF: Mapping[int, frozenset[date]] = {
    # Постановления Правительства РФ «О переносе выходных дней»: от 29.12.2022 № 2406 (2023),
    # от 10.08.2023 № 1314 (2024), от 04.10.2024 № 1335 (2025), от 24.09.2025 № 1466 (2026).
    # Checked against the published decree texts; the yearly totals are in the tests.
    2023: _days(2023, "01-01..01-08", "02-23", "02-24", "03-08", "05-01", "05-08", "05-09",
                "06-12", "11-04", "11-06"),
    2024: _days(2024, "01-01..01-08", "02-23", "03-08", "04-29", "04-30", "05-01", "05-09",
                "05-10", "06-12", "11-04", "12-30", "12-31"),
    2025: _days(2025, "01-01..01-08", "02-23", "03-08", "05-01", "05-02", "05-08", "05-09",
                "06-12", "06-13", "11-03", "11-04", "12-31"),
    # 2025: 4 and 5 January → 2 May and 31 December; 23 February → 8 May; 8 March → 13 June;
    # Saturday 1 November → Monday 3 November.
    # 2026: 3 and 4 January → 9 January and 31 December.
    2026: _days(2026, "01-01..01-09", "02-23", "03-09", "05-01", "05-11", "06-12", "11-04",
                "12-31"),
}  # fmt: skip

#: Saturdays and Sundays made working days by decree.
_DECREED_WORK: Mapping[int, frozenset[date]] = {
    2024: _days(2024, "04-27", "11-02", "12-28"),
    2025: _days(2025, "11-01"),
}

_STATUTE = ("01-01..01-08", "02-23", "03-08", "05-01", "05-09", "06-12", "11-04")


@lru_cache(maxsize=64)
def _statute_off(year: int) -> frozenset[date]:
    """ТК РФ ст. 112 without a decree: a non-January holiday on a weekend moves forward."""
    off = set(_days(year, *_STATUTE))
    for h in sorted(off):
        if h.month == 1 or h.weekday() < 5:
            continue
        d = h + timedelta(days=1)
        while d.weekday() >= 5 or d in off:
            d += timedelta(days=1)
        off.add(d)
    return frozenset(off)


class ProductionCalendar:
    """Working days by the Russian production calendar, with optional local additions."""

    def __init__(
        self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> None:
        self._extra_off = frozenset(extra_holidays)
        self._extra_work = frozenset(extra_workdays)

    @staticmethod
    def decreed_years() -> tuple[int, ...]:
        """Years whose transfers come from a decree (others use the statute only)."""
        return tuple(sorted(_DECREED_OFF))

    def is_working_day(self, day: date) -> bool:
        if day in self._extra_work:
            return True
        if day in self._extra_off:
            return False
        off = _DECREED_OFF.get(day.year) or _statute_off(day.year)
        if day in off:
            return False
        if day in _DECREED_WORK.get(day.year, frozenset()):
            return True
        return day.weekday() < 5

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``n`` ≥ 0; 0 = ``day`` itself)."""
        d = day
        left = n
        while left > 0:
            d += timedelta(days=1)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``[start, end]``."""
        n = 0
        d = start
        while d <= end:
            n += self.is_working_day(d)
            d += timedelta(days=1)
        return n
