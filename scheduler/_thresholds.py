"""Change-volume thresholds per entity: is this push too big to apply without a person?

The pending outbox of a school is counted per entity as inserts (the platform has no such
record yet), updates (it has one) and deletes, and compared with the configured limits: a
count, or a percentage of the live records of that entity the platform holds for the school.
A sudden mass change is far more often a wrong import or a broken mapping than a real
teacher's week, so such a run waits for approval instead of being applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, select

from core.connector import Connector
from core.store import Store, in_chunks, remote_records
from core.sync import DEFAULT_PULL_LIMITS, HoldCheck, PullLimits
from scheduler._plan import EntityLimits

__all__ = ["ChangeVolume", "change_volume", "hold_check", "pull_limits", "threshold_breaches"]

_r = remote_records.c


@dataclass(frozen=True, slots=True)
class ChangeVolume:
    #: (entity, kind) → count, kind ∈ inserts / updates / deletes.
    changes: Counter[tuple[str, str]]
    #: Live platform records per entity (the base of percentages).
    base: Mapping[str, int]


def change_volume(store: Store, school: str, platform: str) -> ChangeVolume:
    pending = store.outbox(school, platform, status="pending")
    upserts = [i.record_id for i in pending if i.op != "delete"]
    existing: set[str] = set()
    with store.engine.connect() as conn:
        for chunk in in_chunks(sorted(set(upserts))):
            existing.update(
                conn.execute(
                    select(_r.id).where(
                        and_(
                            _r.platform == platform,
                            _r.school == school,
                            _r.id.in_(list(chunk)),
                            _r.deleted == False,  # noqa: E712
                        )
                    )
                ).scalars()
            )
    changes: Counter[tuple[str, str]] = Counter()
    for item in pending:
        if item.op == "delete":
            kind = "deletes"
        else:
            kind = "updates" if item.record_id in existing else "inserts"
        changes[(item.entity, kind)] += 1
    return ChangeVolume(changes=changes, base=store.remote_counts(school, platform))


def threshold_breaches(volume: ChangeVolume, limits: Mapping[str, EntityLimits]) -> list[str]:
    """Each limit exceeded, in words (e.g. ``mark: 40 deletes exceed 5 % of 300``)."""
    out: list[str] = []
    for (entity, kind), count in sorted(volume.changes.items()):
        lim = limits.get(entity) or limits.get("*")
        limit = getattr(lim, kind) if lim is not None else None
        if limit is None:
            wild = limits.get("*")
            limit = getattr(wild, kind) if wild is not None else None
        if limit is None:
            continue
        base = volume.base.get(entity, 0)
        if limit.exceeded(count, base):
            of = f" of {base}" if limit.percent else ""
            out.append(f"{entity}: {count} {kind} exceed {limit}{of}")
    return out


def hold_check(limits: Mapping[str, EntityLimits]) -> HoldCheck:
    """A ``sync_school(hold=…)`` callback for these limits."""

    def check(store: Store, connector: Connector) -> str | None:
        if not limits:
            return None
        target = connector.target
        breaches = threshold_breaches(change_volume(store, target.school, target.platform), limits)
        return "; ".join(breaches) if breaches else None

    return check


def pull_limits(limits: Mapping[str, EntityLimits]) -> dict[str, PullLimits]:
    """The limits of what one pull may delete or change: the configured ``deletes`` and
    ``updates`` thresholds (inserts never hold a pull), the safe defaults where none is set."""
    out = dict(DEFAULT_PULL_LIMITS)
    for entity, lim in limits.items():
        base = out.get(entity) or DEFAULT_PULL_LIMITS.get(entity) or PullLimits()
        out[entity] = PullLimits(
            deletes=lim.deletes or base.deletes, updates=lim.updates or base.updates
        )
    return out
