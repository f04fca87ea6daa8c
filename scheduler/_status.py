"""Per school and platform: last run, its state and counts, the next slot, holds and errors, the
live records, open quarantine and stale records, and the platform's recorded schema drift.

Schools come from the plan and from the store: a school pulled from the command line (no plan,
no run) is known by its pull's cursors, and is listed too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.store import Run, RunState, SchemaDriftRow, Store
from scheduler._plan import Plan, SchoolPlan, cron_trigger

__all__ = ["SchoolStatus", "next_slot", "school_status"]


@dataclass(frozen=True, slots=True)
class SchoolStatus:
    school: str
    name: str
    platform: str
    last_run: str | None = None
    last_operation: str | None = None
    state: str | None = None
    updated_at: datetime | None = None
    pulled: int = 0
    pushed: int = 0
    drift: int = 0
    next_slot: datetime | None = None
    next_operation: str | None = None
    #: Held runs awaiting approval: (run id, reason).
    holds: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    #: Live snapshot records per entity (``Store.remote_counts``).
    records: dict[str, int] = field(default_factory=dict)
    #: Open quarantined records per entity.
    quarantined: dict[str, int] = field(default_factory=dict)
    #: Live records whose last read failed, kept at their last good version, per entity.
    stale: dict[str, int] = field(default_factory=dict)
    #: The platform's schema drift recorded for this school (unknown / missing / retyped).
    schema_drift: tuple[SchemaDriftRow, ...] = ()
    #: False for a school the store knows but the plan does not (pulled from the command line).
    in_plan: bool = True
    #: A family-account school's latest pull: (pupils read, pupils on the school's roster).
    pupils: tuple[int, int] | None = None
    #: The plan's binding name (a school may be bound to several platforms); "" off the plan.
    binding: str = ""
    #: How many bindings the school has in the plan (the binding is shown when more than one).
    bindings: int = 1
    #: Whether this binding takes the school's pushes today (the one in effect).
    in_effect: bool = True

    @property
    def coverage(self) -> str:
        """«512 / 550 pupils», or "" for a school read whole through one account."""
        return f"{self.pupils[0]} / {self.pupils[1]} pupils" if self.pupils else ""

    @property
    def drifted_fields(self) -> list[str]:
        return [f"{d.kind.value} {d.model}.{d.field}" for d in self.schema_drift]

    def as_json(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "name": self.name,
            "platform": self.platform,
            "last_run": self.last_run,
            "operation": self.last_operation,
            "state": self.state,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "pulled": self.pulled,
            "pushed": self.pushed,
            "drift": self.drift,
            "next_slot": self.next_slot.isoformat() if self.next_slot else None,
            "next_operation": self.next_operation,
            "holds": [{"run": r, "reason": why} for r, why in self.holds],
            "error": self.error,
            "in_plan": self.in_plan,
            "binding": self.binding,
            "in_effect": self.in_effect,
            "pupils": (
                {"read": self.pupils[0], "expected": self.pupils[1]} if self.pupils else None
            ),
            "records": self.records,
            "quarantined": self.quarantined,
            "stale": self.stale,
            "schema_drift": [
                {
                    "model": d.model,
                    "field": d.field,
                    "kind": d.kind.value,
                    "count": d.count,
                    "first_seen": d.first_seen.isoformat(),
                    "last_seen": d.last_seen.isoformat(),
                }
                for d in self.schema_drift
            ],
        }


def next_slot(school: SchoolPlan, now: datetime) -> tuple[datetime, str] | None:
    """The school's next scheduled slot (any operation) after ``now``."""
    best: tuple[datetime, str] | None = None
    for s in school.schedules:
        t = cron_trigger(s.cron, school.timezone).get_next_fire_time(None, now)
        if t is not None and (best is None or t < best[0]):
            best = (t, s.operation)
    return best


def school_status(
    plan: Plan | None,
    store: Store,
    *,
    schools: Iterable[str] | None = None,
    now: datetime | None = None,
    history: int = 20_000,
) -> list[SchoolStatus]:
    """One line per school and platform: the plan's schools, then every other one the store
    knows (pulled from the command line, or before it left the plan)."""
    now = now or datetime.now(UTC)
    runs = store.runs(limit=history)
    by_pair: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_pair.setdefault((r.school, r.platform), []).append(r)
    wanted = set(schools) if schools is not None else None
    plans = {(s.slug, s.platform): s for s in plan.schools} if plan is not None else {}
    pairs = list(plans)
    planned = set(pairs)
    pairs += sorted(({*by_pair, *store.school_platforms()}) - planned)
    quarantined = store.quarantine_counts()
    drift: dict[tuple[str, str], list[SchemaDriftRow]] = {}
    for d in store.schema_drift():
        drift.setdefault((d.school, d.platform), []).append(d)
    out: list[SchoolStatus] = []
    for slug, platform in pairs:
        if wanted is not None and slug not in wanted:
            continue
        sp = plans.get((slug, platform))
        several = len(plan.bindings(slug)) if plan is not None and sp is not None else 1
        mine = by_pair.get((slug, platform), [])  # newest first
        last = mine[0] if mine else None
        holds = tuple((r.id, _hold_reason(store, r)) for r in mine if r.state is RunState.HELD)
        nxt = next_slot(sp, now) if sp is not None else None
        counts = last.counts if last else {}
        covered = next((r.counts for r in mine if "pupils_expected" in r.counts), None)
        out.append(
            SchoolStatus(
                school=slug,
                name=sp.name if sp else slug,
                platform=platform,
                last_run=last.id if last else None,
                last_operation=last.operation if last else None,
                state=last.state.value if last else None,
                updated_at=last.updated_at if last else None,
                pulled=int(counts.get("records", 0)),
                pushed=int(counts.get("pushed", 0)),
                drift=int(counts.get("drift", 0)),
                next_slot=nxt[0] if nxt else None,
                next_operation=nxt[1] if nxt else None,
                holds=holds,
                error=last.error
                if last and last.state in (RunState.FAILED, RunState.PARTIAL)
                else None,
                records=store.remote_counts(slug, platform),
                quarantined=quarantined.get((slug, platform), {}),
                stale=store.stale_counts(slug, platform),
                schema_drift=tuple(drift.get((slug, platform), ())),
                in_plan=sp is not None,
                binding=sp.binding if sp is not None else "",
                bindings=several,
                in_effect=sp is None or several == 1 or plan is None or plan.is_in_effect(sp),
                pupils=(
                    (int(covered["pupils_read"]), int(covered["pupils_expected"]))
                    if covered is not None
                    else None
                ),
            )
        )
    return out


def _hold_reason(store: Store, run: Run) -> str:
    notes = [t.note for t in store.transitions(run.id) if t.to_state is RunState.HELD]
    return notes[-1] if notes else ""
