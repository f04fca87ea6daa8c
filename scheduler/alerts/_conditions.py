"""Alert conditions: small functions over what the store gives, one per kind.

Each returns the conditions that hold now; :func:`evaluate` runs the configured ones for every
school of the plan and says which (kind, school) pairs it could check. Only a checked pair can
*recover*: a school with no coverage figure (read whole through one account, or never pulled)
is not checked for coverage, so an old coverage alert is never taken as cleared by silence.

Coverage comes from the latest run of a family-account school that counted its pupils
(``pupils_read`` / ``pupils_expected``, core/sync); a school read whole through one account has
none and is not checked. Outage journals are the offline-journal entries not yet on the platform
(:func:`core.importer.carry_over`, with the deadline of regulation 002 §13.2). The functions take
them as plain values (:class:`CoverageFact`, :class:`OutageJournal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from core.importer import carry_over
from core.logging import redact
from core.store import Run, RunState, SchemaDriftRow, Store
from scheduler._alert_settings import AlertSettings, ConditionKind
from scheduler._plan import Plan, SchoolPlan

__all__ = [
    "Condition",
    "Coverage",
    "CoverageFact",
    "Evaluation",
    "Journal",
    "OutageJournal",
    "coverage_below",
    "evaluate",
    "failed_in_a_row",
    "held_runs",
    "latest_coverage",
    "outage_journals",
    "outage_overdue",
    "schema_drift_now",
]


@dataclass(frozen=True, slots=True)
class Condition:
    kind: ConditionKind
    school: str
    platform: str
    #: Unique per condition: ``kind:school:platform`` (and a detail: the held run, the journal).
    key: str
    #: When the condition began (UTC).
    since: datetime
    #: What the messages say: plain values, no secrets (reasons are redacted).
    facts: dict[str, Any] = field(default_factory=dict)


class CoverageFact(Protocol):
    """A family-account school's latest coverage: pupils of the roster its pulls covered."""

    @property
    def covered(self) -> int: ...
    @property
    def roster(self) -> int: ...


class OutageJournal(Protocol):
    """A paper journal kept during an outage, to be carried over to the platform by a date."""

    @property
    def name(self) -> str: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def carried_over(self) -> bool: ...


def _key(kind: str, school: str, platform: str, *detail: str) -> str:
    return ":".join((kind, school, platform, *detail))


def failed_in_a_row(runs: Sequence[Run], n: int) -> Condition | None:
    """The school's newest ``n`` runs (``runs`` newest first) all failed."""
    streak: list[Run] = []
    for r in runs:
        if r.state is not RunState.FAILED:
            break
        streak.append(r)
    if n < 1 or len(streak) < n:
        return None
    last = streak[0]
    return Condition(
        "failed_runs",
        last.school,
        last.platform,
        _key("failed_runs", last.school, last.platform),
        since=streak[len(streak) - n].updated_at,  # the n-th failure in a row
        facts={"runs": len(streak), "threshold": n, "error": str(redact(last.error or ""))},
    )


def held_runs(runs: Iterable[Run], reasons: dict[str, tuple[datetime, str]]) -> list[Condition]:
    """Each held run awaiting a person; ``reasons``: run id → (held at, why)."""
    out = []
    for r in runs:
        if r.state is not RunState.HELD:
            continue
        at, why = reasons.get(r.id, (r.updated_at, ""))
        out.append(
            Condition(
                "held_run",
                r.school,
                r.platform,
                _key("held_run", r.school, r.platform, r.id),
                since=at,
                facts={"run": r.id[:8], "operation": r.operation, "reason": str(redact(why))},
            )
        )
    return out


def schema_drift_now(
    rows: Sequence[SchemaDriftRow], since_run: datetime | None
) -> Condition | None:
    """The platform's payloads differ from what the connector knows, as seen by the school's
    latest run (``since_run``: when it began; ``None``: no run, any recorded drift counts).
    A platform that went back to the known shape is not seen drifting by the next run."""
    seen = [d for d in rows if since_run is None or d.last_seen >= since_run]
    if not seen:
        return None
    first = seen[0]
    return Condition(
        "schema_drift",
        first.school,
        first.platform,
        _key("schema_drift", first.school, first.platform),
        since=min(d.first_seen for d in seen),
        facts={"fields": sorted(f"{d.kind.value} {d.model}.{d.field}" for d in seen)},
    )


def coverage_below(
    school: str, platform: str, fact: CoverageFact, minimum: float, at: datetime
) -> Condition | None:
    """The pulls covered less than ``minimum`` (0–1) of the roster."""
    if fact.roster <= 0 or fact.covered / fact.roster >= minimum:
        return None
    return Condition(
        "coverage",
        school,
        platform,
        _key("coverage", school, platform),
        since=at,
        facts={"covered": fact.covered, "roster": fact.roster, "minimum": minimum},
    )


def outage_overdue(
    school: str, platform: str, journals: Iterable[OutageJournal], now: datetime
) -> list[Condition]:
    """Outage journals not carried over by their deadline."""
    return [
        Condition(
            "outage_journal",
            school,
            platform,
            _key("outage_journal", school, platform, j.name),
            since=j.deadline,
            facts={"journal": j.name, "deadline": j.deadline.isoformat()},
        )
        for j in journals
        if not j.carried_over and j.deadline <= now
    ]


@dataclass(slots=True)
class Evaluation:
    conditions: list[Condition] = field(default_factory=list)
    #: (kind, school, platform) checked: only their conditions may recover.
    checked: set[tuple[str, str, str]] = field(default_factory=set)


def evaluate(
    plan: Plan, store: Store, settings: AlertSettings, *, now: datetime | None = None
) -> Evaluation:
    """Every configured condition for every school of the plan."""
    now = now or datetime.now(UTC)
    out = Evaluation()
    kinds: set[str] = set(settings.conditions)
    drift: dict[tuple[str, str], list[SchemaDriftRow]] = {}
    if "schema_drift" in kinds:
        for d in store.schema_drift():
            drift.setdefault((d.school, d.platform), []).append(d)
    for school in plan.schools:
        found = _school(school, store, settings, kinds, drift, now, out)
        out.conditions += found
    return out


def _school(
    school: SchoolPlan,
    store: Store,
    settings: AlertSettings,
    kinds: set[str],
    drift: dict[tuple[str, str], list[SchemaDriftRow]],
    now: datetime,
    out: Evaluation,
) -> list[Condition]:
    slug, platform = school.slug, school.platform
    runs = [
        r
        for r in store.runs(school=slug, limit=max(settings.failed_runs, 50))
        if r.platform == platform
    ]
    found: list[Condition] = []
    for kind in sorted(kinds):
        out.checked.add((kind, slug, platform))
    if "failed_runs" in kinds and (c := failed_in_a_row(runs, settings.failed_runs)):
        found.append(c)
    if "held_run" in kinds:
        reasons = {r.id: _held_at(store, r) for r in runs if r.state is RunState.HELD}
        found += held_runs(runs, reasons)
    if "schema_drift" in kinds:
        # The latest run that read the platform through: a run failing before (platform
        # down) says nothing about the payloads' shape.
        read = next((r for r in runs if r.state in (RunState.DONE, RunState.HELD)), None)
        began = read.created_at if read else None
        if c := schema_drift_now(drift.get((slug, platform), []), began):
            found.append(c)
    if "coverage" in kinds:
        fact = latest_coverage(runs)
        minimum = settings.coverage_minimum or school.min_coverage
        if fact is None:  # not a family-account school, or never pulled: nothing to say
            out.checked.discard(("coverage", slug, platform))
        elif c := coverage_below(slug, platform, fact, minimum, fact.at):
            found.append(c)
    if "outage_journal" in kinds:
        found += outage_overdue(slug, platform, outage_journals(store, school), now)
    return found


@dataclass(frozen=True, slots=True)
class Coverage:
    covered: int
    roster: int
    #: When the run that counted them ended.
    at: datetime


def latest_coverage(runs: Sequence[Run]) -> Coverage | None:
    """The pupils the newest run that counted them read, of the school's roster."""
    run = next((r for r in runs if "pupils_expected" in r.counts), None)
    if run is None:
        return None
    return Coverage(
        int(run.counts.get("pupils_read", 0)), int(run.counts["pupils_expected"]), run.updated_at
    )


@dataclass(frozen=True, slots=True)
class Journal:
    name: str
    deadline: datetime
    carried_over: bool


def outage_journals(store: Store, school: SchoolPlan) -> list[Journal]:
    """The school's offline-journal entries not yet on the platform, as one journal whose
    deadline is the end of the last of the 2 working days (regulation 002 §13.2) in the
    school's time zone; none while access has not come back (no deadline runs yet)."""
    found = carry_over(store, school.slug, school.platform, str(school.tz))
    if found is None or found.deadline is None:
        return []
    end = datetime.combine(found.deadline + timedelta(days=1), time(0), tzinfo=school.tz)
    local = found.imported_at.astimezone(school.tz)
    return [Journal(f"временный журнал от {local:%d.%m.%Y}", end, carried_over=False)]


def _held_at(store: Store, run: Run) -> tuple[datetime, str]:
    held = [t for t in store.transitions(run.id) if t.to_state is RunState.HELD]
    return (held[-1].at, held[-1].note) if held else (run.updated_at, "")
