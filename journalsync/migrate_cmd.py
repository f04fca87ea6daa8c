"""``journalsync migrate plan|approve|apply|verify|list``: move a school's journal from one
platform binding to another, with a plan a person approves and a certificate at the end.

``plan`` pulls both bindings (``--no-pull``: their latest snapshots), matches identities (the
review file when anything waits for the operator), and writes the plan — ``plan.json`` and the
Russian ``plan.xlsx`` — to ``--out``; ``approve`` records a person's approval; ``apply`` sends
the plan's writes through the target's channels (resumable: run it again after a crash);
``verify`` pulls the target again and writes ``certificate.json`` and ``certificate.pdf``.
"""

from __future__ import annotations

import asyncio
import getpass
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.documents import local_time
from core.errors import ConfigError, JournalSyncError
from core.files import private_dir
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
from core.store import RunState, Store
from core.sync import (
    DEFAULT_PULL_LIMITS,
    ApplyResult,
    PullLimits,
    apply_plan,
    plan_keys,
    status_by_key,
    sync_school,
)
from journalsync._common import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_PARTIAL,
    console,
    die,
    open_store,
    reported_errors,
    school_lock,
)
from journalsync.config import load_config
from journalsync.worklist_cmd import write_worklists
from scheduler import Plan, SchoolPlan, make_connector

__all__ = ["migrate_app"]

migrate_app = typer.Typer(
    help="Move a school's journal from one platform binding to another (plan, approve, apply, "
    "verify).",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="The municipality config (the school's bindings).")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (default: the config's, else $JOURNALSYNC_DB)."),
]


class Stopped(JournalSyncError):
    """A migration step stopped for a reason with its own exit code (held 5, partial 6, a
    platform that refused writes 1)."""

    def __init__(self, message: str, code: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


@contextmanager
def _reported() -> Iterator[None]:
    """:func:`reported_errors`, with :class:`Stopped`'s own exit code."""
    with reported_errors():
        try:
            yield
        except Stopped as exc:
            die(exc.message, exc.code, exc.hint)


#: Pull limits of the target's pull after an apply: deletes still hold it, changes do not.
_AFTER_APPLY = {e: PullLimits(deletes=lim.deletes) for e, lim in DEFAULT_PULL_LIMITS.items()}

PlanArg = Annotated[str, typer.Argument(help="The plan's id (printed by `migrate plan`).")]


def _store_url(config: Path | None, db: str | None) -> str | None:
    if db or config is None:
        return db
    return load_config(config, check_platforms=False).store_url or None


async def _pull(store: Store, plan: Plan, sp: SchoolPlan, *, after_apply: bool = False) -> None:
    """A full pull of one binding, as ``journalsync pull`` does it; a held or partial pull stops
    the migration (a plan over part of a journal would lose the rest silently). After an apply
    (``verify``) the target's records changing en masse is the migration itself, so only the
    delete limits hold the pull then."""
    connector = make_connector(plan, sp, store)
    key = f"{sp.slug}:{sp.platform}:pull:migrate:{uuid.uuid4().hex[:12]}"
    async with school_lock(store, sp.slug), connector:
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
        raise Stopped(
            f"the pull of {sp.slug} on binding {sp.binding} is held: {report.run.error or ''}",
            EXIT_HELD,
            hint=f"review it (`journalsync runs approve {report.run.id}`), then plan again",
        )
    if report.coverage is not None and not report.coverage.ok:
        raise Stopped(
            f"the pull of {sp.slug} on binding {sp.binding} read only part of the school's"
            " pupils; a migration needs the whole journal",
            EXIT_PARTIAL,
            hint="add the missing families' accounts (`journalsync accounts list`), then plan"
            " again",
        )
    console.print(
        f"pulled {sp.binding} ({sp.platform}): {report.counts().get('records', 0)} records"
    )


def _snapshot(store: Store, school: str, platform: str) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in store.remote_records(school, platform):
        out.setdefault(r.ENTITY, []).append(r)
    return out


def _school_name(snap: Mapping[str, list[Record]], fallback: str) -> str:
    school = next(iter(snap.get("school", ())), None)
    return school.name if isinstance(school, School) else fallback


def _side(sp: SchoolPlan) -> dict[str, str]:
    return {"binding": sp.binding, "platform": sp.platform, "title": platform_title(sp.platform)}


def _binding(plan: Plan, slug: str, name: str) -> SchoolPlan:
    return plan.binding(slug, name)


# -- one school ----------------------------------------------------------------------------------


def _plan_school(
    cfg: Plan,
    store: Store,
    src: SchoolPlan,
    tgt: SchoolPlan,
    out: Path,
    *,
    no_pull: bool,
    review: Path | None,
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
        for sp in (src, tgt):
            asyncio.run(_pull(store, cfg, sp))
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
        console.print(f"{len(matches.pending())} identities to review: {xlsx}", highlight=False)
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
    data["out"] = str(out)
    meta = plan_meta(
        _school_name(theirs, school),
        platform_title(src.platform),
        platform_title(tgt.platform),
        datetime.now(UTC),
        tgt.timezone,
    )
    write_plan_files(out, data, plan, meta)
    package = _roster_package(plan, mine, theirs, matches.id_map(), tgt, out)
    if package is not None:
        data["package"] = package.name
        console.print(
            f"the target's operator has to create what has no match: {package}",
            highlight=False,
        )
    store.save_plan(
        plan_id,
        school=school,
        source=(src.binding, src.platform),
        target=(tgt.binding, tgt.platform),
        counts=data["counts"],
        data=data,
    )
    return plan_id, data


def _roster_package(
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


def _apply_one(cfg: Plan, store: Store, plan_id: str, config: Path) -> str:
    """Apply one plan; returns its state (``applying`` raises :class:`Stopped`)."""
    row = store.plan(plan_id)
    if row.state == "planned":
        raise ConfigError(
            f"plan {plan_id} is not approved",
            hint=f"review the plan's files, then `journalsync migrate approve {plan_id}`",
        )
    plan = plan_from_json(row.data)
    if plan.pending_review:
        raise ConfigError(
            f"plan {plan_id} has {plan.pending_review} identities not yet decided",
            hint="decide them in the review file and plan again with --review FILE",
        )
    if row.state in ("applied", "verified"):
        console.print(f"plan {plan_id} is already {row.state}", highlight=False)
        return row.state
    tgt = _binding(cfg, row.school, row.target_binding)
    store.set_plan_state(plan_id, "applying")
    connector = make_connector(cfg, tgt, store)

    async def run() -> ApplyResult:
        async with school_lock(store, row.school), connector:
            return await apply_plan(store, connector, plan_id, plan)

    result = asyncio.run(run())
    out = Path(row.data.get("out") or ".")
    if result.statuses.get("awaiting_entry"):
        files = write_worklists(store, row.school, tgt.platform, out / "worklists", tgt.timezone)
        if files:
            console.print(
                f"{len(files) // 3} worklist(s) for hand entry written to {out / 'worklists'}",
                highlight=False,
            )
    store.set_plan_state(plan_id, result.state)
    console.print(
        f"plan {plan_id} {result.state}: queued {result.queued}, "
        + ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())),
        highlight=False,
    )
    pushed = result.pushed
    if pushed is not None and pushed.failures:
        for what, why in pushed.failures[:10]:
            console.print(f"  failed: {what.split('/')[0]}: {why}", highlight=False)
    if result.state == "applying":
        raise Stopped(
            f"plan {plan_id}: some writes were not accepted by the platform",
            EXIT_FAILED,
            hint=f"run `journalsync migrate apply -c {config} {plan_id}` again",
        )
    return result.state


def _verify_one(
    cfg: Plan, store: Store, plan_id: str, config: Path, out: Path | None, *, no_pull: bool
) -> dict[str, Any]:
    """Pull the target, write the certificate, move the plan on; returns the certificate."""
    row = store.plan(plan_id)
    if row.state in ("planned", "approved"):
        raise ConfigError(
            f"plan {plan_id} is {row.state}, not applied",
            hint=f"`journalsync migrate apply -c {config} {plan_id}` first",
        )
    plan = plan_from_json(row.data)
    tgt = _binding(cfg, row.school, row.target_binding)
    if not no_pull:
        asyncio.run(_pull(store, cfg, tgt, after_apply=True))
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
    _verify_hand_entries(store, shown, statuses)
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
    unexplained = sum(e["unexplained"] for e in cert["entities"].values())
    awaited = sum(e["awaited"] for e in cert["entities"].values())
    console.print(
        f"plan {plan_id}: complete {str(cert['complete']).lower()}, "
        f"{unexplained} unexplained, {awaited} awaited; certificate written to {where}",
        highlight=False,
    )
    return cert


def _verify_hand_entries(store: Store, shown: list[str], statuses: Mapping[str, str]) -> None:
    """Hand-entry items (worklist, package) the target now shows are verified."""
    done = [k for k in shown if statuses.get(k) in ("pending", "awaiting_entry")]
    if done:
        store.set_outbox_status(done, "verified")


def _print_counts(counts: Mapping[str, Mapping[str, Any]]) -> None:
    for entity, c in counts.items():
        parts = [f"{k} {v}" for k, v in c.items() if k not in ("explained",) and v]
        explained = c.get("explained") or {}
        if explained:
            parts.append("explained " + ", ".join(f"{k} {n}" for k, n in explained.items()))
        console.print(f"  {entity}: " + "; ".join(parts), highlight=False)


# -- a municipality (--all) ----------------------------------------------------------------------


def _pairs(cfg: Plan, source: str, target: str) -> list[tuple[SchoolPlan, SchoolPlan]]:
    """Every school with a binding on each platform, in the config's order."""
    out: list[tuple[SchoolPlan, SchoolPlan]] = []
    for slug in dict.fromkeys(s.slug for s in cfg.schools):
        found = cfg.bindings(slug)
        src = next((s for s in found if s.platform == source), None)
        tgt = next((s for s in found if s.platform == target), None)
        if src is not None and tgt is not None:
            out.append((src, tgt))
    if not out:
        raise ConfigError(
            f"no school in the config has bindings on both {source} and {target}",
            hint="name each school's bindings in [[schools.bindings]]",
        )
    return out


def _latest_plans(store: Store, source: str, target: str) -> dict[str, str]:
    """The latest plan of each school for the platform pair."""
    latest: dict[str, str] = {}
    for row in store.plans():
        if row.source_platform == source and row.target_platform == target:
            latest[row.school] = row.id  # plans come in creation order
    return latest


def _each_school(slugs: list[str], step: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """Run ``step`` per school; a school's failure is its row, never the others' stop."""
    rows: list[tuple[str, str, str]] = []
    for slug in slugs:
        try:
            rows.append((slug, step(slug), ""))
        except JournalSyncError as exc:
            rows.append((slug, "failed", exc.message))
        except Exception as exc:  # a bug in one school must not stop the municipality
            rows.append((slug, "failed", f"unexpected {type(exc).__name__}"))
    return rows


def _summary(rows: list[tuple[str, str, str]]) -> None:
    table = Table(title="schools", show_lines=False)
    for name in ("school", "state", "detail"):
        table.add_column(name)
    for slug, state, detail in rows:
        table.add_row(slug, state, detail)
    console.print(table)
    if any(state == "failed" for _, state, _ in rows):
        raise typer.Exit(EXIT_FAILED)


# -- commands ------------------------------------------------------------------------------------


@migrate_app.command("plan")
def plan_cmd(
    config: ConfigOpt,
    out: Annotated[Path, typer.Option("--out", help="Directory for the plan's files.")],
    school: Annotated[str | None, typer.Option("--school", help="The school's slug.")] = None,
    source: Annotated[
        str | None, typer.Option("--from", help="The binding the school leaves.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--to", help="The binding the school moves to.")
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every school with bindings on --from-platform and --to-platform (files in"
            " OUT/<school>).",
        ),
    ] = False,
    from_platform: Annotated[str | None, typer.Option("--from-platform")] = None,
    to_platform: Annotated[str | None, typer.Option("--to-platform")] = None,
    db: DbOpt = None,
    no_pull: Annotated[
        bool, typer.Option("--no-pull", help="Use the latest snapshots instead of pulling.")
    ] = False,
    review: Annotated[
        Path | None,
        typer.Option(
            "--review",
            help="The review file (XLSX or CSV) with the operator's decisions in «Решение».",
        ),
    ] = None,
) -> None:
    """Pull both bindings, match identities and write the plan; prints its id and counts.

    Identities the rules cannot settle go to a review file in ``--out``; decide them there and
    plan again with ``--review FILE`` (decisions are kept in the store for later plans)."""
    with _reported():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
            if every:
                if not (from_platform and to_platform) or school or source or target:
                    raise ConfigError(
                        "--all takes --from-platform P --to-platform Q (and no --school,"
                        " --from, --to)"
                    )
                pairs = {s.slug: (s, t) for s, t in _pairs(cfg, from_platform, to_platform)}

                def one(slug: str) -> str:
                    src, tgt = pairs[slug]
                    plan_id, data = _plan_school(
                        cfg, store, src, tgt, out / slug, no_pull=no_pull, review=None
                    )
                    waiting = data["pending_review"]
                    console.print(f"{slug}: plan {plan_id}", highlight=False)
                    return f"planned {plan_id}" + (f", {waiting} to review" if waiting else "")

                _summary(_each_school(list(pairs), one))
                return
            if not (school and source and target):
                raise ConfigError("give --school, --from and --to (or --all)")
            src, tgt = _binding(cfg, school, source), _binding(cfg, school, target)
            plan_id, data = _plan_school(cfg, store, src, tgt, out, no_pull=no_pull, review=review)
        console.print(f"plan {plan_id}", highlight=False)
        _print_counts(data["counts"])
        if data["pending_review"]:
            console.print(
                f"{data['pending_review']} identities wait for the operator's review; the plan"
                " cannot be applied until they are decided (plan again with --review FILE)",
                highlight=False,
            )
        console.print(f"written to {out}", highlight=False)


@migrate_app.command("approve")
def approve_cmd(
    plan_id: PlanArg,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The config (its store).")
    ] = None,
    db: DbOpt = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who approves (default: the user).")
    ] = None,
) -> None:
    """Approve a plan (recorded with who and when); ``apply`` refuses a plan not approved."""
    with _reported(), open_store(_store_url(config, db)) as store:
        row = store.plan(plan_id)
        if row.state != "planned":
            raise ConfigError(f"plan {plan_id} is already {row.state}")
        store.set_plan_state(plan_id, "approved", approved_by=by or getpass.getuser())
        console.print(f"plan {plan_id} approved", highlight=False)


PlanOpt = Annotated[
    str | None, typer.Argument(help="The plan's id (printed by `migrate plan`); none with --all.")
]
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all", help="The latest plan of every school for --from-platform → --to-platform."
    ),
]


def _many(
    store: Store, plan_id: str | None, every: bool, src: str | None, dst: str | None
) -> dict[str, str] | None:
    """``None`` for one plan; for ``--all`` the latest plan id per school."""
    if not every:
        if plan_id is None:
            raise ConfigError("give a plan id (or --all --from-platform P --to-platform Q)")
        return None
    if plan_id is not None or not (src and dst):
        raise ConfigError("--all takes --from-platform P --to-platform Q and no plan id")
    latest = _latest_plans(store, src, dst)
    if not latest:
        raise ConfigError(f"no migration plan from {src} to {dst} in this store")
    return latest


@migrate_app.command("apply")
def apply_cmd(
    config: ConfigOpt,
    plan_id: PlanOpt = None,
    db: DbOpt = None,
    every: AllOpt = False,
    from_platform: Annotated[str | None, typer.Option("--from-platform")] = None,
    to_platform: Annotated[str | None, typer.Option("--to-platform")] = None,
) -> None:
    """Send an approved plan's writes through the target's channels (run again to resume)."""
    with _reported():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
            latest = _many(store, plan_id, every, from_platform, to_platform)
            if latest is None:
                assert plan_id is not None
                _apply_one(cfg, store, plan_id, config)
                return
            _summary(
                _each_school(list(latest), lambda s: _apply_one(cfg, store, latest[s], config))
            )


@migrate_app.command("verify")
def verify_cmd(
    config: ConfigOpt,
    plan_id: PlanOpt = None,
    db: DbOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for the certificate (default: the plan's)."),
    ] = None,
    no_pull: Annotated[
        bool, typer.Option("--no-pull", help="Use the target's latest snapshot.")
    ] = False,
    every: AllOpt = False,
    from_platform: Annotated[str | None, typer.Option("--from-platform")] = None,
    to_platform: Annotated[str | None, typer.Option("--to-platform")] = None,
) -> None:
    """Pull the target again and write the certificate (``certificate.json`` and ``.pdf``);
    exits 1 while the migration is not complete (unexplained or awaited entries)."""
    with _reported():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
            latest = _many(store, plan_id, every, from_platform, to_platform)
            if latest is None:
                assert plan_id is not None
                cert = _verify_one(cfg, store, plan_id, config, out, no_pull=no_pull)
                if not cert["complete"]:
                    raise typer.Exit(EXIT_FAILED)
                return

            def one(slug: str) -> str:
                where = out / slug if out else None
                cert = _verify_one(cfg, store, latest[slug], config, where, no_pull=no_pull)
                if cert["complete"]:
                    return "complete"
                unexplained = sum(e["unexplained"] for e in cert["entities"].values())
                awaited = sum(e["awaited"] for e in cert["entities"].values())
                return f"incomplete: {unexplained} unexplained, {awaited} awaited"

            rows = _each_school(list(latest), one)
            _summary(rows)
            if any(state != "complete" for _, state, _ in rows):
                raise typer.Exit(EXIT_FAILED)


@migrate_app.command("list")
def list_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The config (its store).")
    ] = None,
    db: DbOpt = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
) -> None:
    """The migration plans in the store, with their state."""
    with _reported(), open_store(_store_url(config, db)) as store:
        for row in store.plans(school):
            console.print(
                f"{row.id}  {row.school}  {row.source_binding} → {row.target_binding}  {row.state}",
                highlight=False,
            )
