"""How much one pull may delete, change or leave unreadable before a person looks at it.

A pull that suddenly deletes a fifth of a school's marks is far more often a platform answering
partially, a renamed field or a broken mapping than a real week of teachers' work; such a pull
is held with the old snapshot kept (DESIGN.md §4). The limits are per entity, a count or a
percentage of the live records the store holds for the school, with a floor under which a
percentage never holds a pull (a class of ten pupils losing three absences is not a mass change).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_PULL_LIMITS", "Limit", "PullLimits", "pull_breaches"]


@dataclass(frozen=True, slots=True)
class Limit:
    """A change-volume limit: an absolute count, or a percentage of the records there now
    (exceeded only above ``floor`` records as well)."""

    value: float
    percent: bool = False
    floor: int = 0

    def exceeded(self, count: int, base: int) -> bool:
        if count <= self.floor:
            return False
        if self.percent:
            return count > 0 and count * 100.0 > self.value * max(base, 1)
        return count > self.value

    def __str__(self) -> str:
        return f"{self.value:g} %" if self.percent else f"{self.value:g}"


@dataclass(frozen=True, slots=True)
class PullLimits:
    """One entity's pull limits: records deleted, and records changed or left unreadable."""

    deletes: Limit | None = None
    #: Content changes, records the pull could not read again (quarantined, kept stale) and
    #: records moved unchanged from one page (scope) to another.
    updates: Limit | None = None


_FIFTH = Limit(20, percent=True, floor=20)

#: Used where the configuration sets no limit of its own: more than 20 % (and more than 20
#: records) of a school's live marks, attendance or lessons deleted or changed by one pull.
DEFAULT_PULL_LIMITS: Mapping[str, PullLimits] = {
    entity: PullLimits(deletes=_FIFTH, updates=_FIFTH)
    for entity in ("mark", "attendance", "lesson")
}


def pull_breaches(
    effects: Mapping[str, Counter[str]], live: Mapping[str, int], limits: Mapping[str, PullLimits]
) -> list[str]:
    """Each limit the pull's staged pages exceed, in words a person can act on."""
    out: list[str] = []
    for entity, kinds in sorted(effects.items()):
        lim = limits.get(entity) or limits.get("*")
        if lim is None:
            continue
        base = live.get(entity, 0)
        deletes, updates, stale = kinds["deletes"], kinds["updates"], kinds["stale"]
        moves = kinds["moves"]
        if lim.deletes is not None and lim.deletes.exceeded(deletes, base):
            out.append(
                f"{entity}: {deletes:,} of {base:,} live records would be deleted "
                f"(limit {lim.deletes})"
            )
        if lim.updates is not None and lim.updates.exceeded(updates + stale + moves, base):
            what = [f"{updates:,} changed"] if updates else []
            if stale:
                what.append(f"{stale:,} no longer readable (quarantined, last good version kept)")
            if moves:
                what.append(f"{moves:,} moved to another page (scope) unchanged")
            out.append(
                f"{entity}: {' and '.join(what)} of {base:,} live records (limit {lim.updates})"
            )
    return out
