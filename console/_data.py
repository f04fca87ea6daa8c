"""What the console shows and does, over the store: the schools' overview, runs, drift findings
and their resolution. The API and the pages both call these; neither reads the store itself.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import and_, func, or_, select

from console._paging import DAMAGED, Page, decode_cursor, encode_cursor
from core.connector import Change
from core.errors import ConfigError
from core.logging import get_logger
from core.model import record_from_data
from core.store import (
    DriftChange,
    DriftRow,
    Finding,
    Run,
    RunState,
    SchemaDriftRow,
    Store,
    cursors,
    drift_findings,
    local_records,
    remote_records,
    run_transitions,
    runs,
)
from core.sync import capabilities_of, change_key, record_hash
from scheduler import Plan, SchoolPlan, SchoolStatus, cron_trigger, school_status

__all__ = [
    "STATE_TEXT",
    "SchoolRow",
    "Scores",
    "compliance_score",
    "finding_rows",
    "initials",
    "mask_row",
    "overview",
    "resolve_finding",
    "runs_page",
]

log = get_logger(__name__)

#: Run states in words, for the pages.
STATE_TEXT = {
    "planned": "запланирован",
    "pulling": "чтение с платформы",
    "reconciling": "сверка",
    "held": "ждёт подтверждения",
    "pushing": "отправка",
    "verifying": "проверка",
    "done": "выполнен",
    "failed": "ошибка",
    None: "не запускался",
}

FINDING_STATUS_TEXT = {"open": "открыто", "accepted": "принято", "resolved": "устранено"}

OPERATION_TEXT = {
    "pull": "чтение",
    "push": "синхронизация",
    "reconcile": "сверка",
    "reports": "отчёты",
    "sync": "синхронизация",
}

#: Fields of a finding whose values are people's names (masked for an auditor).
_PERSON_FIELDS = frozenset({"ученик", "учитель", "замена", "фамилия", "имя", "отчество"})


_KIND_TEXT = {
    "deletes": "удалений",
    "updates": "изменений",
    "inserts": "добавлений",
    "changes": "изменений",
}
_LIMIT = re.compile(r"(\w+): (\d+) (\w+) exceed (\d+(?:\.\d+)?)( %)?(?: of (\d+))?")
_NOTES = (
    (re.compile(r"^pulled$"), "прочитано"),
    (re.compile(r"^approved by (.+)$"), r"подтвердил(а): \1"),
    (re.compile(r"^pull discarded by (.+): the old snapshot kept$"), r"отклонил(а): \1"),
    (re.compile(r"^discarded by (.+)$"), r"отклонил(а): \1"),
    (re.compile(r"^superseded: a later pull read its scopes again$"), "заменён следующим чтением"),
    (re.compile(r"^interrupted; resuming$"), "прерван; продолжается"),
    (re.compile(r"^reports$"), "отчёты"),
)


def note_text(note: str) -> str:
    """A run's note in Russian where its form is known: a hold's limits («отметки: 3
    изменений больше допустимых 2»), who approved or discarded; else as recorded."""
    from core.store import ENTITY_TEXT

    def limit(m: re.Match[str]) -> str:
        entity, count, kind, bound, pct, base = m.groups()
        what = ENTITY_TEXT.get(entity, entity)
        of = f" {bound} % от {base}" if pct and base else f" {bound}"
        return f"{what}: {count} {_KIND_TEXT.get(kind, kind)} — больше допустимых{of}"

    note = note.replace(" (console)", " (консоль)")
    for pattern, text in _NOTES:
        if pattern.match(note):
            return pattern.sub(text, note)
    if _LIMIT.search(note):
        return _LIMIT.sub(limit, note)
    return note


# --- names ---------------------------------------------------------------------------------------


def initials(name: str) -> str:
    """«Иванов И. И.» → «И. И. И.»: the first letter of every word."""
    return " ".join(f"{w[0]}." for w in name.replace(".", " ").split() if w)


def mask_row(row: DriftRow) -> DriftRow:
    """A finding as an auditor sees it: people as initials only."""
    person = row.what == "человек"
    changes = tuple(
        DriftChange(c.field, initials(c.local), initials(c.platform))
        if person or c.field in _PERSON_FIELDS
        else c
        for c in row.changes
    )
    return replace(row, student=initials(row.student), changes=changes)


# --- the overview --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchoolRow:
    slug: str
    name: str
    platform: str
    timezone: str
    status: SchoolStatus
    drift_open: int
    drift_accepted: int
    holds: int
    coverage: float | None
    compliance: float | None
    compliance_pending: bool
    in_plan: bool
    failed_in_a_row: int = 0
    entities_open: dict[str, int] = field(default_factory=dict)

    @property
    def state(self) -> str | None:
        return self.status.state

    def as_json(self) -> dict[str, Any]:
        s = self.status
        return {
            "school": self.slug,
            "name": self.name,
            "platform": self.platform,
            "timezone": self.timezone,
            "in_plan": self.in_plan,
            "last_run": {
                "id": s.last_run,
                "operation": s.last_operation,
                "state": s.state,
                "updated_at": s.updated_at.isoformat() if s.updated_at else None,
                "pulled": s.pulled,
                "pushed": s.pushed,
                "error": s.error,
            }
            if s.last_run
            else None,
            "state": s.state,
            "next_slot": s.next_slot.isoformat() if s.next_slot else None,
            "holds": [{"run": r, "reason": why} for r, why in s.holds],
            "coverage": self.coverage,
            "drift": {"open": self.drift_open, "accepted": self.drift_accepted},
            "drift_open_by_entity": self.entities_open,
            "compliance_score": self.compliance,
            "compliance_pending": self.compliance_pending,
            "records": sum(s.records.values()),
            "quarantined": sum(s.quarantined.values()),
            "stale": sum(s.stale.values()),
            "schema_drift": len(s.schema_drift),
            "failed_in_a_row": self.failed_in_a_row,
        }


def drift_counts(
    store: Store, schools: frozenset[str] | None = None
) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """(school, platform) → status → entity → findings."""
    f = drift_findings.c
    stmt = select(f.school, f.platform, f.status, f.entity, func.count()).group_by(
        f.school, f.platform, f.status, f.entity
    )
    if schools is not None:
        stmt = stmt.where(f.school.in_(sorted(schools)))
    out: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    with store.engine.connect() as conn:
        for school, platform, status, entity, n in conn.execute(stmt):
            out.setdefault((school, platform), {}).setdefault(status, {})[entity] = int(n)
    return out


_SCORE_TTL = 600.0


def compliance_score(store: Store, plan: Plan | None, school: str, platform: str) -> float | None:
    """Share of the profile's checked rules with no finding (0–100); ``None`` where the
    snapshot holds no journal to check."""
    try:
        from core.compliance import PROFILES, check_frame, frame_from_store, get_profile

        sp = (
            next((s for s in plan.schools if s.slug == school and s.platform == platform), None)
            if plan
            else None
        )
        profile_id = sp.compliance_profile if sp and sp.compliance_profile in PROFILES else "all"
        frame = frame_from_store(store, school, platform)
        if not (frame.class_ids or frame.l_day.size):
            return None
        result = check_frame(
            frame,
            get_profile(profile_id),
            as_of=datetime.now(UTC),
            platform=platform,
            capabilities=capabilities_of(platform),
            timezone=sp.timezone if sp else (plan.timezone if plan else "Europe/Moscow"),
        )
    except Exception as exc:  # a broken snapshot must not take the overview down
        log.warning("compliance score not computed", school=school, error=type(exc).__name__)
        return None
    by_rule = result.by_rule()
    if not by_rule:
        return None
    clean = sum(1 for found in by_rule.values() if not found)
    return round(100.0 * clean / len(by_rule), 1)


class Scores:
    """Compliance scores per school and last run, kept ten minutes. A page computes what its
    time budget allows and leaves the rest to one background thread, so the overview of a
    thousand schools never waits for a thousand compliance checks ("считается")."""

    def __init__(self, store: Store, plan: Plan | None, budget: float = 0.25) -> None:
        self.store, self.plan, self.budget = store, plan, budget
        self._cache: dict[tuple[str, str], tuple[str, float, float | None]] = {}
        self._queue: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def _fresh(self, pair: tuple[str, str], version: str) -> tuple[bool, float | None]:
        hit = self._cache.get(pair)
        if hit is not None and hit[0] == version and time.monotonic() - hit[1] < _SCORE_TTL:
            return True, hit[2]
        return False, None

    def _compute(self, pair: tuple[str, str], version: str) -> float | None:
        score = compliance_score(self.store, self.plan, *pair)
        with self._lock:
            self._cache[pair] = (version, time.monotonic(), score)
        return score

    def get(
        self, pair: tuple[str, str], version: str, deadline: float
    ) -> tuple[float | None, bool]:
        """(score, pending): computed now while before ``deadline``, else queued."""
        with self._lock:
            known, score = self._fresh(pair, version)
        if known:
            return score, False
        if time.monotonic() < deadline:
            return self._compute(pair, version), False
        with self._lock:
            self._queue[pair] = version
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._drain, name="console-compliance", daemon=True
                )
                self._worker.start()
        return None, True

    def warm(self) -> None:
        """Queue every school's score (in the background), e.g. when the console starts."""

        def queue_all() -> None:
            try:
                statuses = school_status(self.plan, self.store)
            except Exception as exc:
                log.warning("compliance warm-up skipped", error=type(exc).__name__)
                return
            with self._lock:
                for st in statuses:
                    self._queue.setdefault((st.school, st.platform), st.last_run or "")
            self._drain()

        self._worker = threading.Thread(target=queue_all, name="console-compliance", daemon=True)
        self._worker.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the background thread has computed every queued score (``True``), or
        ``timeout`` seconds have passed (``False``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            worker = self._worker
            if worker is None or not worker.is_alive():
                with self._lock:
                    if not self._queue:
                        return True
            time.sleep(0.05)
        return False

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                pair, version = next(iter(self._queue.items()))
                del self._queue[pair]
            self._compute(pair, version)


@functools.lru_cache(maxsize=256)
def _trigger(cron: str, timezone: str) -> Any:
    return cron_trigger(cron, timezone)


def _next_slot(
    sp: SchoolPlan, now: datetime, memo: dict[tuple[str, str], datetime | None]
) -> tuple[datetime, str] | None:
    """The school's next slot; ``memo`` shares the fire times of one ``now`` between the
    schools of one schedule and zone (most of a municipality)."""
    best: tuple[datetime, str] | None = None
    for sch in sp.schedules:
        key = (sch.cron, sp.timezone)
        if key not in memo:
            memo[key] = _trigger(sch.cron, sp.timezone).get_next_fire_time(None, now)
        t = memo[key]
        if t is not None and (best is None or t < best[0]):
            best = (t, sch.operation)
    return best


def _plans(plan: Plan | None, schools: frozenset[str] | None) -> dict[tuple[str, str], SchoolPlan]:
    """The plan's bindings by (slug, platform), in the plan's order (the wanted schools only:
    one school's page walks no list of a thousand)."""
    if plan is None:
        return {}
    if schools is not None and len(schools) < 50:
        at = _index(plan)
        found = sorted((hit for s in schools for hit in at.get(s, ())), key=lambda p: p[0])
        return {(sp.slug, sp.platform): sp for _, sp in found}
    return {(s.slug, s.platform): s for s in plan.schools if schools is None or s.slug in schools}


_INDEXES: dict[int, tuple[Plan, dict[str, list[tuple[int, SchoolPlan]]]]] = {}


def _index(plan: Plan) -> dict[str, list[tuple[int, SchoolPlan]]]:
    """slug → [(position, binding)] of a plan, kept per plan object (a plan does not change; a
    frozen dataclass of a thousand schools is slow to hash, hence by identity)."""
    hit = _INDEXES.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    index: dict[str, list[tuple[int, SchoolPlan]]] = {}
    for i, s in enumerate(plan.schools):
        index.setdefault(s.slug, []).append((i, s))
    if len(_INDEXES) > 8:
        _INDEXES.clear()
    _INDEXES[id(plan)] = (plan, index)
    return index


def statuses(
    plan: Plan | None, store: Store, schools: frozenset[str] | None = None
) -> list[SchoolStatus]:
    """``scheduler.school_status`` for many schools at once: a handful of grouped queries
    whatever the number of schools (no per-school query, no count of snapshot records —
    the records are the last run's), so the overview of a thousand schools stays quick."""
    u, t = runs.c, run_transitions.c
    wanted = sorted(schools) if schools is not None else None

    def only(stmt: Any, col: Any) -> Any:
        return stmt.where(col.in_(wanted)) if wanted is not None else stmt

    newest = only(
        select(u.school, u.platform, func.max(u.created_at).label("at")).group_by(
            u.school, u.platform
        ),
        u.school,
    ).subquery()
    last_stmt = select(runs).join(
        newest,
        and_(
            u.school == newest.c.school,
            u.platform == newest.c.platform,
            u.created_at == newest.c.at,
        ),
    )
    held_stmt = only(select(u.id, u.school, u.platform).where(u.state == "held"), u.school)
    with store.engine.connect() as conn:
        last: dict[tuple[str, str], Run] = {}
        for row in conn.execute(last_stmt):
            got = _run(row)
            pair = (got.school, got.platform)
            if pair not in last or got.id > last[pair].id:
                last[pair] = got
        held = conn.execute(held_stmt).all()
        notes: dict[str, str] = {}
        for chunk in range(0, len(held), 500):
            ids = [h.id for h in held[chunk : chunk + 500]]
            for run_id, note in conn.execute(
                select(t.run_id, t.note)
                .where(t.run_id.in_(ids), t.to_state == "held")
                .order_by(t.seq)
            ):
                notes[run_id] = note
        pairs_known = {
            (sch, p)
            for sch, p in conn.execute(
                only(select(cursors.c.school, cursors.c.platform).distinct(), cursors.c.school)
            )
        }
    holds: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for h in held:
        holds.setdefault((h.school, h.platform), []).append((h.id, notes.get(h.id, "")))
    quarantined = store.quarantine_counts()
    drift: dict[tuple[str, str], list[SchemaDriftRow]] = {}
    for d in store.schema_drift():
        drift.setdefault((d.school, d.platform), []).append(d)
    plans = _plans(plan, schools)
    pairs = list(plans)
    planned = set(pairs)
    others = {*last, *pairs_known, *quarantined, *drift} - planned
    pairs += sorted(others)
    now = datetime.now(UTC)
    memo: dict[tuple[str, str], datetime | None] = {}
    out: list[SchoolStatus] = []
    for slug, platform in pairs:
        if schools is not None and slug not in schools:
            continue
        sp = plans.get((slug, platform))
        r = last.get((slug, platform))
        counts = r.counts if r else {}
        nxt = _next_slot(sp, now, memo) if sp is not None else None
        out.append(
            SchoolStatus(
                school=slug,
                name=sp.name if sp else slug,
                platform=platform,
                last_run=r.id if r else None,
                last_operation=r.operation if r else None,
                state=r.state.value if r else None,
                updated_at=r.updated_at if r else None,
                pulled=int(counts.get("records", 0) or 0),
                pushed=int(counts.get("pushed", 0) or 0),
                drift=int(counts.get("drift", 0) or 0),
                next_slot=nxt[0] if nxt else None,
                next_operation=nxt[1] if nxt else None,
                holds=tuple(holds.get((slug, platform), ())),
                error=r.error if r and r.state is RunState.FAILED else None,
                pupils=(
                    (int(counts["pupils_read"]), int(counts["pupils_expected"]))
                    if "pupils_expected" in counts
                    else None
                ),
                quarantined=quarantined.get((slug, platform), {}),
                schema_drift=tuple(drift.get((slug, platform), ())),
                in_plan=sp is not None,
            )
        )
    return out


def overview(
    plan: Plan | None,
    store: Store,
    *,
    schools: frozenset[str] | None = None,
    scores: Scores | None = None,
) -> list[SchoolRow]:
    """One row per school binding (school × platform), the visible ones only; compliance
    scores from ``scores`` (none without it)."""
    deadline = time.monotonic() + (scores.budget if scores is not None else 0.0)
    found = statuses(plan, store, schools)
    drift = drift_counts(store, schools)
    plans = _plans(plan, schools)
    default_tz = plan.timezone if plan else "Europe/Moscow"
    failures = _failed_in_a_row(store, [(st.school, st.platform) for st in found if st.error])
    out = []
    for st in found:
        counts = drift.get((st.school, st.platform), {})
        sp = plans.get((st.school, st.platform))
        compliance, pending = (
            scores.get((st.school, st.platform), st.last_run or "", deadline)
            if scores is not None
            else (None, False)
        )
        out.append(
            SchoolRow(
                slug=st.school,
                name=st.name,
                platform=st.platform,
                timezone=sp.timezone if sp else default_tz,
                status=st,
                drift_open=sum(counts.get("open", {}).values()),
                drift_accepted=sum(counts.get("accepted", {}).values()),
                holds=len(st.holds),
                coverage=st.pupils[0] / st.pupils[1] if st.pupils and st.pupils[1] else None,
                compliance=compliance,
                compliance_pending=pending,
                in_plan=st.in_plan,
                failed_in_a_row=failures.get((st.school, st.platform), 0),
                entities_open=dict(counts.get("open", {})),
            )
        )
    return out


def _failed_in_a_row(store: Store, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Failed runs in a row up to the last one, for the pairs whose last run failed: one
    query over the last 50 runs of each (a window), whatever the number of pairs."""
    u = runs.c
    wanted = set(pairs)
    out: dict[tuple[str, str], int] = {}
    schools = sorted({s for s, _ in wanted})
    for chunk in range(0, len(schools), 500):
        numbered = (
            select(
                u.school,
                u.platform,
                u.state,
                func.row_number()
                .over(
                    partition_by=(u.school, u.platform),
                    order_by=(u.created_at.desc(), u.id.desc()),
                )
                .label("n"),
            )
            .where(u.school.in_(schools[chunk : chunk + 500]))
            .subquery()
        )
        n = numbered.c
        stmt = (
            select(n.school, n.platform, n.state)
            .where(n.n <= 50)
            .order_by(n.school, n.platform, n.n)
        )
        ended: set[tuple[str, str]] = set()
        with store.engine.connect() as conn:
            for school, platform, state in conn.execute(stmt):
                pair = (school, platform)
                if pair not in wanted or pair in ended:
                    continue
                if state != "failed":
                    ended.add(pair)
                    continue
                out[pair] = out.get(pair, 0) + 1
    return {pair: out.get(pair, 0) for pair in pairs}


# --- runs ----------------------------------------------------------------------------------------


def _run(row: Any) -> Run:
    return Run(
        id=row.id,
        run_key=row.run_key,
        school=row.school,
        platform=row.platform,
        operation=row.operation,
        state=RunState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        counts=dict(row.counts),
        error=row.error,
        created=False,
    )


def runs_page(
    store: Store,
    *,
    schools: frozenset[str] | None,
    school: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Runs, newest first, keyset-paged on (created_at, id)."""
    u = runs.c
    stmt = select(runs).order_by(u.created_at.desc(), u.id.desc())
    if schools is not None:
        stmt = stmt.where(u.school.in_(sorted(schools)))
    if school is not None:
        stmt = stmt.where(u.school == school)
    if state is not None:
        stmt = stmt.where(u.state == state)
    after = decode_cursor(cursor)
    if after is not None:
        if len(after) != 2 or not isinstance(after[0], str):
            raise ConfigError(DAMAGED)
        try:
            at = datetime.fromisoformat(after[0])
        except ValueError:
            raise ConfigError(DAMAGED) from None
        if at.tzinfo is None:
            raise ConfigError(DAMAGED)
        stmt = stmt.where(or_(u.created_at < at, and_(u.created_at == at, u.id < str(after[1]))))
    with store.engine.connect() as conn:
        found = [_run(r) for r in conn.execute(stmt.limit(limit + 1))]
    shown = found[:limit]
    nxt = (
        encode_cursor([shown[-1].created_at.isoformat(), shown[-1].id])
        if len(found) > limit
        else None
    )
    return Page(shown, nxt)


# --- drift ---------------------------------------------------------------------------------------


def finding_rows(
    store: Store,
    school: str,
    platform: str,
    *,
    status: str | None = "open",
    entity: str | None = None,
    class_name: str | None = None,
    subject: str | None = None,
    masked: bool = False,
) -> list[tuple[Finding, DriftRow]]:
    """A school's findings with their words, sorted as the CLI sorts them, filtered."""
    findings = store.findings(school, platform, status=status)
    if entity:
        findings = [f for f in findings if f.entity == entity]
    rows = store.describe_findings(school, platform, findings)
    pairs = list(zip(findings, rows, strict=True))
    if class_name:
        pairs = [(f, r) for f, r in pairs if r.class_name == class_name]
    if subject:
        pairs = [(f, r) for f, r in pairs if r.subject.casefold() == subject.casefold()]
    if masked:
        pairs = [(f, mask_row(r)) for f, r in pairs]
    return sorted(pairs, key=lambda p: p[0].id)


def find_finding(store: Store, finding_id: str) -> Finding | None:
    f = drift_findings.c
    with store.engine.connect() as conn:
        row = conn.execute(select(f.school, f.platform).where(f.id == finding_id)).first()
    if row is None:
        return None
    return next((x for x in store.findings(row.school, row.platform) if x.id == finding_id), None)


Resolution = Literal["push_local", "accept_platform", "accept_difference"]
RESOLUTIONS: tuple[Resolution, ...] = ("push_local", "accept_platform", "accept_difference")


def _record_data(store: Store, finding: Finding) -> tuple[Any, Any]:
    lr, rr = local_records.c, remote_records.c
    with store.engine.connect() as conn:
        local = conn.execute(
            select(lr.data).where(
                lr.school == finding.school, lr.id == finding.record_id, lr.deleted.is_(False)
            )
        ).scalar()
        remote = conn.execute(
            select(rr.data).where(
                rr.platform == finding.platform,
                rr.school == finding.school,
                rr.id == finding.record_id,
                rr.deleted.is_(False),
            )
        ).scalar()
    return (
        orjson.loads(local) if local is not None else None,
        orjson.loads(remote) if remote is not None else None,
    )


def resolve_finding(
    store: Store, finding: Finding, action: str, *, actor: str, comment: str = ""
) -> dict[str, Any]:
    """A person's decision on an open finding.

    * ``push_local`` — the school's journal is right: the record is queued in the outbox (on
      the channel the platform offers), pushed and verified by the next push; the finding is
      resolved by the reconcile after it;
    * ``accept_platform`` — the platform is right: the local record is overwritten from the
      snapshot (or removed, when the platform has none); the finding is resolved;
    * ``accept_difference`` — both stay as they are, with the person's comment (required).
    """
    comment = comment.strip()
    if action not in RESOLUTIONS:
        raise ConfigError(f"unknown action {action!r}: use {', '.join(RESOLUTIONS)}")
    if finding.status != "open":
        raise ConfigError(
            f"the finding is {finding.status} already", hint="only an open finding is resolved"
        )
    local, remote = _record_data(store, finding)
    if action == "accept_difference":
        if not comment:
            raise ConfigError("accepting a difference needs a comment saying why")
        store.set_finding_status(finding.id, "accepted", note=f"{comment} ({actor})")
        return {"status": "accepted"}
    if action == "push_local":
        if local is None:
            raise ConfigError(
                "the school's journal has no such record: nothing to push",
                hint="accept the platform's version, or accept the difference",
            )
        record = record_from_data(finding.entity, local)
        base = record_hash(remote)  # as reconcile keys it: the same change is queued once
        caps = capabilities_of(finding.platform)
        offered = caps.channels_for(finding.entity)
        if not offered:
            raise ConfigError(f"the platform offers no way to push a {finding.entity}")
        change = Change(key=change_key(record, "upsert", base), op="upsert", record=record)
        queued = store.enqueue(finding.school, finding.platform, [change], channel=offered[0].value)
        note = f"push requested by {actor}" + (f": {comment}" if comment else "")
        store.set_finding_status(finding.id, "open", note=note)
        return {"status": "open", "queued": queued, "channel": offered[0].value}
    # accept_platform
    why = f"accepted the platform's version (web console, {actor})"
    if remote is not None:
        store.upsert_local(
            finding.school, [record_from_data(finding.entity, remote)], actor=actor, reason=why
        )
    else:
        store.delete_local(finding.school, [finding.record_id], actor=actor, reason=why)
    note = f"platform accepted by {actor}" + (f": {comment}" if comment else "")
    store.set_finding_status(finding.id, "resolved", note=note)
    return {"status": "resolved"}


def local_time(value: datetime | None, zone: str) -> str:
    """«03.12.2026 19:30» in the school's zone; empty for nothing."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M")
