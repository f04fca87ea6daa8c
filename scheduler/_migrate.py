"""A school's migration steps (``apply``, ``verify``; issue 15) as the scheduler's unit of work.

``journalsync migrate apply|verify PLAN`` runs :func:`apply_migration` / :func:`verify_migration`
for one plan; with ``--all`` every school's step is a :func:`migrate_school` — on the embedded
engine concurrently within the :class:`Runner`'s limits (``parallel_schools`` and each upstream
host's ``schools``), on Temporal as a workflow per school whose activity calls the same function
on the target host's task queue. One school's failure is its :class:`MigrationOutcome` and never
stops the others.

``apply`` writes through the target binding's outbox with the plan's own idempotency keys
(:func:`core.sync.apply_plan`): a step run again — by hand, or by Temporal after a worker died —
queues nothing twice and sends only what is not yet verified.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from core.documents import local_time
from core.errors import ConfigError, JournalSyncError, Retriable
from core.files import private_dir
from core.logging import get_logger, log_context
from core.migrate import (
    Describer,
    MigrationPlan,
    build_plan,
    certificate,
    match_identities,
    plan_from_json,
    plan_meta,
    plan_to_json,
    read_review,
    shown_keys,
    write_certificate,
    write_plan_files,
    write_review,
)
from core.model import (
    AcademicYear,
    ClassUnit,
    Enrollment,
    Group,
    Period,
    Person,
    Record,
    School,
    Subject,
)
from core.package import Package, PackageItem, write_package
from core.platform import connector_class, platform_title
from core.store import SCHOOL_LOCK_WAIT, RunState, SchoolLock, Store
from core.sync import (
    DEFAULT_PULL_LIMITS,
    PullLimits,
    apply_plan,
    plan_keys,
    status_by_key,
    sync_school,
)
from core.worklist import write_worklists
from scheduler._plan import Plan, SchoolPlan
from scheduler._runner import Runner, failure_reason, make_connector

__all__ = [
    "MIGRATION_STEPS",
    "MigrationJob",
    "MigrationOutcome",
    "MigrationRefused",
    "MigrationStopped",
    "apply_migration",
    "certificate_counts",
    "migrate_school",
    "migrate_schools",
    "plan_migration",
    "pull_binding",
    "roster_package",
    "verify_migration",
]

log = get_logger(__name__)

MIGRATION_STEPS = ("plan", "apply", "verify")

#: Pull limits of the target's pull after an apply: deletes still hold it, changes do not.
_AFTER_APPLY = {e: PullLimits(deletes=lim.deletes) for e, lim in DEFAULT_PULL_LIMITS.items()}

Say = Callable[[str], None]
#: What a step holds while it talks to the platform (the runner's slots), inside the school's
#: lock: a step waiting for its school holds no slot another school could use.
Slots = Callable[[SchoolPlan], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def _no_slots(_: SchoolPlan) -> AsyncIterator[None]:
    yield


def _log_say(text: str) -> None:
    log.info("migration", detail=text)


class MigrationStopped(JournalSyncError):
    """A migration step stopped for a reason with its own exit code (held 5, partial 6, a
    platform that refused writes 1)."""

    def __init__(self, message: str, code: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class MigrationRefused(ConfigError):
    """The plan may not take this step (not approved, identities not yet decided, not yet
    applied): a person has to act first. Exit 2 for one plan; ``refused`` in a summary."""


@dataclass(frozen=True, slots=True)
class MigrationJob:
    """One school's part of a ``--all`` step."""

    school: str
    #: The target binding's platform (its upstream host's limits and task queue).
    platform: str
    #: ``apply``, ``verify``: the school's plan.
    plan_id: str = ""
    #: ``plan``: the binding the school leaves and the one it moves to.
    source: str = ""
    target: str = ""


@dataclass(slots=True)
class MigrationOutcome:
    school: str
    plan_id: str
    step: str
    #: planned, done, awaiting entry, failed, refused.
    state: str
    reason: str = ""
    #: The plan's state after the step (``applied``, ``awaiting_entry``, ``verified`` …).
    plan_state: str = ""
    #: A failure the platform may get over later (5xx, 429, unreachable).
    retriable: bool = False
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "plan_id": self.plan_id,
            "step": self.step,
            "state": self.state,
            "reason": self.reason,
            "plan_state": self.plan_state,
            "retriable": self.retriable,
            "retry_after": self.retry_after,
        }


def _snapshot(store: Store, school: str, platform: str) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in store.remote_records(school, platform):
        out.setdefault(r.ENTITY, []).append(r)
    return out


def _school_name(snap: Mapping[str, list[Record]], fallback: str) -> str:
    school = next(iter(snap.get("school", ())), None)
    return school.name if isinstance(school, School) else fallback


async def pull_binding(
    plan: Plan,
    store: Store,
    sp: SchoolPlan,
    *,
    after_apply: bool = False,
    lock_wait: float = SCHOOL_LOCK_WAIT,
    say: Say = _log_say,
    slots: Slots = _no_slots,
) -> None:
    """A full pull of one binding, as ``journalsync pull`` does it; a held or partial pull stops
    the migration (a plan over part of a journal would lose the rest silently). After an apply
    (``verify``) the target's records changing en masse is the migration itself, so only the
    delete limits hold the pull then."""
    async with SchoolLock(store, sp.slug, wait=lock_wait):
        await _pull_locked(plan, store, sp, after_apply=after_apply, say=say, slots=slots)


async def _pull_both(
    plan: Plan,
    store: Store,
    sides: tuple[SchoolPlan, SchoolPlan],
    *,
    lock_wait: float,
    say: Say,
    slots: Slots,
) -> None:
    """The two bindings' pulls at once, under the school's lock (each binding is its own host,
    with its own limits and slots); the first failure is raised once both have ended."""
    async with SchoolLock(store, sides[0].slug, wait=lock_wait):
        ended = await asyncio.gather(
            *(_pull_locked(plan, store, sp, say=say, slots=slots) for sp in sides),
            return_exceptions=True,
        )
    for outcome in ended:
        if isinstance(outcome, BaseException):
            raise outcome


async def _pull_locked(
    plan: Plan,
    store: Store,
    sp: SchoolPlan,
    *,
    after_apply: bool = False,
    say: Say = _log_say,
    slots: Slots = _no_slots,
) -> None:
    connector = make_connector(plan, sp, store)
    key = f"{sp.slug}:{sp.platform}:pull:migrate:{uuid.uuid4().hex[:12]}"
    async with slots(sp), connector:
        report = await sync_school(
            store,
            connector,
            run_key=key,
            operation="pull",
            do_push=False,
            min_coverage=sp.min_coverage,
            pull_limits=_AFTER_APPLY if after_apply else DEFAULT_PULL_LIMITS,
        )
    if report.error is not None:
        raise report.error
    if report.run.state is RunState.HELD:
        raise MigrationStopped(
            f"the pull of {sp.slug} on binding {sp.binding} is held: {report.run.error or ''}",
            5,
            hint=f"review it (`journalsync runs approve {report.run.id}`), then plan again",
        )
    if report.coverage is not None and not report.coverage.ok:
        raise MigrationStopped(
            f"the pull of {sp.slug} on binding {sp.binding} read only part of the school's"
            " pupils; a migration needs the whole journal",
            6,
            hint="add the missing families' accounts (`journalsync accounts list`), then plan"
            " again",
        )
    say(f"pulled {sp.binding} ({sp.platform}): {report.counts().get('records', 0)} records")


async def apply_migration(
    cfg: Plan,
    store: Store,
    plan_id: str,
    *,
    config: str = "journalsync.toml",
    lock_wait: float = SCHOOL_LOCK_WAIT,
    say: Say = _log_say,
    slots: Slots = _no_slots,
) -> str:
    """Apply one approved plan through the target binding's outbox; returns the plan's state
    (``applied``, ``awaiting_entry``; writes the platform did not accept raise
    :class:`MigrationStopped`, a plan not ready :class:`MigrationRefused`)."""
    row = store.plan(plan_id)
    if row.state == "planned":
        raise MigrationRefused(
            f"plan {plan_id} is not approved",
            hint=f"review the plan's files, then `journalsync migrate approve {plan_id}`",
        )
    plan = plan_from_json(row.data)
    if plan.pending_review:
        raise MigrationRefused(
            f"plan {plan_id} has {plan.pending_review} identities not yet decided",
            hint="decide them in the review file and plan again with --review FILE",
        )
    if row.state in ("applied", "verified"):
        say(f"plan {plan_id} is already {row.state}")
        return row.state
    tgt = cfg.binding(row.school, row.target_binding)
    store.set_plan_state(plan_id, "applying")
    connector = make_connector(cfg, tgt, store)
    async with SchoolLock(store, row.school, wait=lock_wait), slots(tgt), connector:
        result = await apply_plan(store, connector, plan_id, plan)
    out = Path(row.data.get("out") or ".")
    if result.statuses.get("awaiting_entry"):
        files = write_worklists(store, row.school, tgt.platform, out / "worklists", tgt.timezone)
        if files:
            say(f"{len(files) // 3} worklist(s) for hand entry written to {out / 'worklists'}")
    store.set_plan_state(plan_id, result.state)
    say(
        f"plan {plan_id} {result.state}: queued {result.queued}, "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items()))
    )
    pushed = result.pushed
    if pushed is not None and pushed.failures:
        for what, why in pushed.failures[:10]:
            say(f"  failed: {what.split('/')[0]}: {why}")
    if result.state == "applying":
        raise MigrationStopped(
            f"plan {plan_id}: some writes were not accepted by the platform",
            1,
            hint=f"run `journalsync migrate apply -c {config} {plan_id}` again",
        )
    return result.state


async def verify_migration(
    cfg: Plan,
    store: Store,
    plan_id: str,
    *,
    out: Path | None = None,
    no_pull: bool = False,
    config: str = "journalsync.toml",
    lock_wait: float = SCHOOL_LOCK_WAIT,
    say: Say = _log_say,
    slots: Slots = _no_slots,
) -> dict[str, Any]:
    """Pull the target, write the certificate, move the plan on; returns the certificate."""
    row = store.plan(plan_id)
    if row.state in ("planned", "approved"):
        raise MigrationRefused(
            f"plan {plan_id} is {row.state}, not applied",
            hint=f"`journalsync migrate apply -c {config} {plan_id}` first",
        )
    tgt = cfg.binding(row.school, row.target_binding)
    if not no_pull:
        await pull_binding(
            cfg, store, tgt, after_apply=True, lock_wait=lock_wait, say=say, slots=slots
        )
    return await asyncio.to_thread(_certify, store, plan_id, tgt, out, say)


def _certify(
    store: Store, plan_id: str, tgt: SchoolPlan, out: Path | None, say: Say
) -> dict[str, Any]:
    """The certificate of the target's latest snapshot (CPU work: run off the event loop)."""
    row = store.plan(plan_id)
    plan = plan_from_json(row.data)
    theirs = _snapshot(store, row.school, tgt.platform)
    mine = _snapshot(store, row.school, row.source_platform)
    caps = connector_class(tgt.platform).capabilities
    keys = plan_keys(plan_id, plan)
    statuses = status_by_key(store, row.school, tgt.platform, set(keys))
    source_caps = connector_class(row.source_platform).capabilities
    shown = shown_keys(
        plan,
        plan_id=plan_id,
        target_records=theirs,
        target_capabilities=caps,
        source_capabilities=source_caps,
    )
    # Hand-entry items (worklist, package) the target now shows are verified.
    done = [k for k in shown if statuses.get(k) in ("pending", "awaiting_entry")]
    if done:
        store.set_outbox_status(done, "verified")
    statuses = status_by_key(store, row.school, tgt.platform, set(keys))
    describe = Describer(theirs, mine)
    for entity in ("mark", "attendance", "homework", "final_mark", "lesson"):
        describe.remember(mine.get(entity, ()))
    cert = certificate(
        plan,
        plan_id=plan_id,
        target_records=theirs,
        target_capabilities=caps,
        outbox_status=statuses,
        describe=describe,
        source_capabilities=source_caps,
    )
    where = out or Path(row.data.get("out") or ".")
    private_dir(where)
    now = datetime.now(UTC)
    meta = [
        *plan_meta(
            _school_name(theirs, row.school),
            platform_title(row.source_platform),
            platform_title(tgt.platform),
            now,
            tgt.timezone,
        )[:3],
        f"Проверено: {local_time(now, tgt.timezone)}",
    ]
    write_certificate(where, cert, meta=meta)
    state = "verified" if cert["complete"] else row.state
    store.set_plan_state(plan_id, state, certificate=cert)
    unexplained, awaited = certificate_counts(cert)
    say(
        f"plan {plan_id}: complete {str(cert['complete']).lower()}, "
        f"{unexplained} unexplained, {awaited} awaited; certificate written to {where}"
    )
    return cert


# -- plan ----------------------------------------------------------------------------------------


def _side(sp: SchoolPlan) -> dict[str, str]:
    return {"binding": sp.binding, "platform": sp.platform, "title": platform_title(sp.platform)}


async def plan_migration(
    cfg: Plan,
    store: Store,
    src: SchoolPlan,
    tgt: SchoolPlan,
    out: Path,
    *,
    no_pull: bool = False,
    review: Path | None = None,
    lock_wait: float = SCHOOL_LOCK_WAIT,
    say: Say = _log_say,
    slots: Slots = _no_slots,
) -> tuple[str, dict[str, Any]]:
    """Pull (unless ``no_pull``), match, write the review file when anything waits, and write
    and save the plan. Returns its id and JSON."""
    school = src.slug
    if src.platform == tgt.platform:
        raise ConfigError(
            f"bindings {src.binding!r} and {tgt.binding!r} of {school!r} are both on"
            f" {src.platform}",
            hint="a migration moves a school between two platforms",
        )
    if not no_pull:
        await _pull_both(cfg, store, (src, tgt), lock_wait=lock_wait, say=say, slots=slots)
    # Matching, the plan and its files are CPU work: off the event loop, so the activity's
    # heartbeat (and the other schools' steps) go on meanwhile.
    return await asyncio.to_thread(_plan_snapshots, store, src, tgt, out, review, say)


def _plan_snapshots(
    store: Store, src: SchoolPlan, tgt: SchoolPlan, out: Path, review: Path | None, say: Say
) -> tuple[str, dict[str, Any]]:
    school = src.slug
    theirs = _snapshot(store, school, tgt.platform)
    mine = _snapshot(store, school, src.platform)
    for side, snap in ((src, mine), (tgt, theirs)):
        if not snap.get("person"):
            raise ConfigError(
                f"no snapshot of {school!r} on binding {side.binding}",
                hint="plan without --no-pull to pull it first",
            )
    flat = [r for recs in mine.values() for r in recs]
    other = [r for recs in theirs.values() for r in recs]
    previous = store.load_matches(school, src.platform, tgt.platform)
    decisions = None
    if review is not None:
        actor = getpass.getuser()
        decisions = {
            k: replace(d, decided_by=d.decided_by or actor) for k, d in read_review(review).items()
        }
    try:
        matches = match_identities(flat, other, decisions=decisions, previous=previous)
    except ValueError as exc:
        raise ConfigError(f"{review}: {exc}") from None
    store.save_matches(school, src.platform, tgt.platform, matches, actor="migrate plan")
    private_dir(out)
    if matches.pending():
        xlsx, _csv = write_review(matches, flat, other, out)
        say(f"{len(matches.pending())} identities to review: {xlsx}")
    describe = Describer(mine)
    labels = {
        m.source_id: describe("", m.source_id, describe.by_id.get(m.source_id))
        for m in matches.matches
    }
    plan = build_plan(
        school=school,
        source=_side(src),
        target=_side(tgt),
        source_records=mine,
        target_records=theirs,
        id_map=matches.id_map(),
        source_capabilities=connector_class(src.platform).capabilities,
        target_capabilities=connector_class(tgt.platform).capabilities,
        matches=matches.matches,
        target_title=platform_title(tgt.platform),
        labels=labels,
    )
    plan.pending_review = len(matches.pending())
    plan_id = uuid.uuid4().hex[:12]
    data = plan_to_json(plan, plan_id=plan_id)
    # absolute: a Temporal worker (another directory, another machine's mount) writes there
    data["out"] = str(out.resolve())
    meta = plan_meta(
        _school_name(theirs, school),
        platform_title(src.platform),
        platform_title(tgt.platform),
        datetime.now(UTC),
        tgt.timezone,
    )
    write_plan_files(out, data, plan, meta)
    package = roster_package(plan, mine, theirs, matches.id_map(), tgt, out)
    if package is not None:
        data["package"] = package.name
        say(f"the target's operator has to create what has no match: {package}")
    store.save_plan(
        plan_id,
        school=school,
        source=(src.binding, src.platform),
        target=(tgt.binding, tgt.platform),
        counts=data["counts"],
        data=data,
    )
    return plan_id, data


def roster_package(
    plan: MigrationPlan,
    mine: Mapping[str, list[Record]],
    theirs: Mapping[str, list[Record]],
    id_map: Mapping[str, str],
    tgt: SchoolPlan,
    out: Path,
) -> Path | None:
    """The package (OneRoster + README) for the target's operator with the roster the target
    lacks — pupils, classes, groups … without a match, where the target offers a package
    channel for them; ``None`` when there is nothing to create that way."""
    needed = {r.source_id for r in plan.roster if r.state == "needed" and r.channel}
    if not needed:
        return None
    by_id = {r.id: r for recs in mine.values() for r in recs}
    school = next(iter(theirs.get("school", ()) or mine.get("school", ())), None)
    if not isinstance(school, School):
        return None
    items = tuple(PackageItem(by_id[i]) for i in sorted(needed) if i in by_id)

    def target_or_new(entity: str) -> list[Record]:
        have = list(theirs.get(entity, ()))
        return have + [it.record for it in items if it.entity == entity]

    enrollments = [
        e.model_copy(update={"class_id": id_map.get(e.class_id, e.class_id)})
        for e in mine.get("enrollment", ())
        if isinstance(e, Enrollment) and e.student_id in needed
    ]
    package = Package(
        school=plan.school,
        platform=tgt.platform,
        scope="outbox",
        generated_at=datetime.now(UTC),
        school_record=school,
        items=items,
        years=tuple(r for r in target_or_new("academic_year") if isinstance(r, AcademicYear)),
        periods=tuple(r for r in target_or_new("period") if isinstance(r, Period)),
        # only the people to create: the target's own are there already
        persons=tuple(it.record for it in items if isinstance(it.record, Person)),
        classes=tuple(r for r in target_or_new("class_unit") if isinstance(r, ClassUnit)),
        subjects=tuple(r for r in target_or_new("subject") if isinstance(r, Subject)),
        groups=tuple(r for r in target_or_new("group") if isinstance(r, Group)),
        enrollments=tuple(enrollments),
        timezone=tgt.timezone,
    )
    folder = private_dir(out / "package")
    return write_package(package, folder)


def certificate_counts(cert: Mapping[str, Any]) -> tuple[int, int]:
    """(unexplained, awaited) records of a certificate."""
    entities = cert["entities"].values()
    return sum(e["unexplained"] for e in entities), sum(e["awaited"] for e in entities)


async def migrate_school(
    runner: Runner,
    step: str,
    school: str,
    plan_id: str = "",
    *,
    source: str = "",
    target: str = "",
    out: Path | None = None,
    no_pull: bool = False,
    config: str = "journalsync.toml",
    say: Say = _log_say,
) -> MigrationOutcome:
    """One school's ``step`` of its plan within the runner's limits (its own ``parallel_schools``
    and the target host's ``schools``, held while the step talks to the platform, inside the
    school's lock). Never raises for the school's faults: the outcome says ``done``, ``awaiting
    entry``, ``failed`` (with the reason) or ``refused`` (a person has to act first: approve,
    decide identities, apply). ``plan`` takes the ``source`` and ``target`` bindings and ``out``
    (the plan's directory) instead of a plan id; its outcome is ``planned`` with the new plan's
    id (and the identities left to review)."""
    if step not in MIGRATION_STEPS:
        raise ValueError(f"unknown migration step {step!r}")
    outcome = MigrationOutcome(school, plan_id, step, "failed")
    with log_context(school=school, plan=plan_id, step=step):
        try:
            if step == "plan":
                if out is None:
                    raise ValueError("plan: give the plan's directory")
                outcome.plan_id, data = await plan_migration(
                    runner.plan,
                    runner.store,
                    runner.plan.binding(school, source),
                    runner.plan.binding(school, target),
                    out,
                    no_pull=no_pull,
                    lock_wait=runner.lock_wait,
                    say=say,
                    slots=runner.slots,
                )
                outcome.state = outcome.plan_state = "planned"
                if waiting := data["pending_review"]:
                    outcome.reason = f"{waiting} to review"
            elif step == "apply":
                outcome.plan_state = await apply_migration(
                    runner.plan,
                    runner.store,
                    plan_id,
                    config=config,
                    lock_wait=runner.lock_wait,
                    say=say,
                    slots=runner.slots,
                )
                outcome.state = (
                    "awaiting entry" if outcome.plan_state == "awaiting_entry" else "done"
                )
            else:
                cert = await verify_migration(
                    runner.plan,
                    runner.store,
                    plan_id,
                    out=out,
                    no_pull=no_pull,
                    config=config,
                    lock_wait=runner.lock_wait,
                    say=say,
                    slots=runner.slots,
                )
                outcome.plan_state = runner.store.plan(plan_id).state
                unexplained, awaited = certificate_counts(cert)
                if cert["complete"]:
                    outcome.state, outcome.reason = "done", "complete"
                elif unexplained:
                    outcome.reason = f"{unexplained} unexplained, {awaited} awaited"
                else:
                    outcome.state, outcome.reason = "awaiting entry", f"{awaited} awaited"
        except MigrationRefused as exc:
            outcome.state, outcome.reason = "refused", exc.message
        except Exception as exc:  # one school's failure never stops the others
            outcome.reason = failure_reason(exc)
            outcome.retriable = isinstance(exc, Retriable | httpx.TransportError)
            outcome.retry_after = getattr(exc, "retry_after", None)
        if outcome.state in ("failed", "refused"):
            log.warning("migration step ended", state=outcome.state, reason=outcome.reason)
        else:
            log.info("migration step ended", state=outcome.state)
    return outcome


async def migrate_schools(
    runner: Runner,
    step: str,
    jobs: Sequence[MigrationJob],
    *,
    out: Path | None = None,
    no_pull: bool = False,
    config: str = "journalsync.toml",
    say: Say = _log_say,
) -> list[MigrationOutcome]:
    """``step`` for every school (its job), concurrently within the runner's limits (the
    embedded engine); the outcomes in the order given. ``out``: each school's files go to
    ``out/<school>`` (``plan``: required; ``verify``: default the plan's directory)."""
    tasks = [
        migrate_school(
            runner,
            step,
            job.school,
            job.plan_id,
            source=job.source,
            target=job.target,
            out=out / job.school if out else None,
            no_pull=no_pull,
            config=config,
            say=say,
        )
        for job in jobs
    ]
    return list(await asyncio.gather(*tasks))
