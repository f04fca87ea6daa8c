"""The periods of an АВЕРС pull: which terms a class has, their dates, and the pages they cut the
year into (WIRE.md "Pull"). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from core.codes import PeriodKind
from core.model import Record
from core.platform import JOURNAL

from . import schema as s
from .mapping import PERIODS, TERM_KINDS

__all__ = [
    "Segment",
    "clamped",
    "estimate",
    "final_pages",
    "paging",
    "segments_of",
    "start_year",
    "terms",
]

#: Two journal dates this far apart have holidays between them (a weekend is 3 days).
_HOLIDAY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    platform_period: int
    period_id: str
    start: date
    end: date


def start_year(answer: Sequence[Any], today: date) -> int:
    """``[[2025]]`` → 2025; ``[[]]`` (seen on some servers) → computed from the date."""
    if answer and isinstance(answer[0], list) and answer[0] and isinstance(answer[0][0], int):
        return int(answer[0][0])
    return today.year if today.month >= 9 else today.year - 1


def segments_of(
    cls: int,
    period_ids: Sequence[int],
    periods: Mapping[int, tuple[Record, s.PeriodDates]],
    year_start: date,
    year_end: date,
) -> list[Segment]:
    """The class's terms as date ranges covering the whole year (module doc)."""
    terms = sorted((periods[p] for p in set(period_ids) if p in periods), key=lambda t: t[1].start)
    out: list[Segment] = []
    begin = year_start
    for k, (rec, info) in enumerate(terms):
        end = year_end if k == len(terms) - 1 else max(info.end, begin)
        out.append(Segment(f"{JOURNAL}:{cls}:{info.id}", info.id, rec.id, begin, end))
        begin = end + timedelta(days=1)
    return out


def terms(ids: Iterable[int]) -> list[int]:
    """The term ids among ``ids``, each kind completed to its whole set (all four quarters)."""
    kinds = {PERIODS[p][0] for p in ids if p in PERIODS and PERIODS[p][0] in TERM_KINDS}
    return sorted(p for p, (kind, _) in PERIODS.items() if kind in kinds)


def paging(term_ids: Sequence[int]) -> list[int]:
    """The terms that cut the year into pages: the kind with the most terms (quarters over the
    half-years some subjects are marked by)."""
    by_kind: dict[PeriodKind, list[int]] = {}
    for p in term_ids:
        by_kind.setdefault(PERIODS[p][0], []).append(p)
    return max(by_kind.values(), key=len) if by_kind else []


def estimate(
    ids: Iterable[int], days: Sequence[date], start: date, end: date
) -> dict[int, s.PeriodDates]:
    """Dates for periods the platform gave none for [guess, WIRE.md]: a kind of n terms ends
    its terms before the n − 1 longest breaks (a week or more) between the journal's dates up to
    today; breaks not seen yet split the rest of the year evenly. Other periods span the year."""
    wanted = set(ids)
    out: dict[int, s.PeriodDates] = {}
    kinds: set[PeriodKind] = set()
    for pid in wanted:
        kind = PERIODS[pid][0]
        if kind in TERM_KINDS:
            kinds.add(kind)
        else:
            out[pid] = s.PeriodDates(id=pid, start=start, end=end)
    breaks = sorted((b - a, a) for a, b in pairwise(days) if b - a >= _HOLIDAY)
    for kind in kinds:
        terms = sorted((o, p) for p, (k, o) in PERIODS.items() if k == kind)
        n = len(terms)
        ends = sorted(a for _, a in breaks[len(breaks) - (n - 1) :]) if n > 1 else []
        while len(ends) < n - 1:
            last = ends[-1] if ends else start - timedelta(days=1)
            ends.append(last + (end - last) / (n - len(ends)))
        begin = start
        for (_, pid), until in zip(terms, [*ends, end], strict=True):
            until = max(until, begin)
            if pid in wanted:
                out[pid] = s.PeriodDates(id=pid, start=begin, end=until)
            begin = until + timedelta(days=1)
    return out


def clamped(segments: Sequence[Segment], day: date) -> str:
    """The page of ``day``; a day before the first term or after the last goes to the nearest."""
    for sg in segments:
        if day <= sg.end:
            return sg.key
    return segments[-1].key


def final_pages(
    segments: Sequence[Segment], periods: Mapping[int, tuple[Record, s.PeriodDates]]
) -> dict[int, str]:
    """Each period's finals go on one page: its own term's, else the page holding its end."""
    if not segments:
        return {}
    own = {sg.platform_period: sg.key for sg in segments}
    return {pid: own.get(pid) or clamped(segments, info.end) for pid, (_, info) in periods.items()}
