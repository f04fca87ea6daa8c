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
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from core.connector import PushChannel
from core.errors import ConfigError
from core.files import private_dir
from core.migrate import (
    Describer,
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
from core.model import Record, School
from core.platform import connector_class, platform_title
from core.store import RunState, Store
from core.sync import (
    DEFAULT_PULL_LIMITS,
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
        die(
            f"the pull of {sp.slug} on binding {sp.binding} is held: {report.run.error or ''}",
            EXIT_HELD,
            f"review it (`journalsync runs approve {report.run.id}`), then plan again",
        )
    if report.coverage is not None and not report.coverage.ok:
        die(
            f"the pull of {sp.slug} on binding {sp.binding} read only part of the school's"
            " pupils; a migration needs the whole journal",
            EXIT_PARTIAL,
            "add the missing families' accounts (`journalsync accounts list`), then plan again",
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


@migrate_app.command("plan")
def plan_cmd(
    config: ConfigOpt,
    school: Annotated[str, typer.Option("--school", help="The school's slug.")],
    source: Annotated[str, typer.Option("--from", help="The binding the school leaves.")],
    target: Annotated[str, typer.Option("--to", help="The binding the school moves to.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the plan's files.")],
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
    with reported_errors():
        cfg = load_config(config)
        src, tgt = _binding(cfg, school, source), _binding(cfg, school, target)
        if src.platform == tgt.platform:
            raise ConfigError(
                f"bindings {source!r} and {target!r} of {school!r} are both on {src.platform}",
                hint="a migration moves a school between two platforms",
            )
        with open_store(db or cfg.store_url or None) as store:
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
                    k: replace(d, decided_by=d.decided_by or actor)
                    for k, d in read_review(review).items()
                }
            try:
                matches = match_identities(flat, other, decisions=decisions, previous=previous)
            except ValueError as exc:
                raise ConfigError(f"{review}: {exc}") from None
            store.save_matches(school, src.platform, tgt.platform, matches, actor="migrate plan")
            private_dir(out)
            if matches.pending():
                xlsx, _csv = write_review(matches, flat, other, out)
                console.print(
                    f"{len(matches.pending())} identities to review: {xlsx}", highlight=False
                )
            describe = Describer(mine)
            labels = {
                m.source_id: describe("", m.source_id, describe.by_id.get(m.source_id))
                for m in matches.matches
            }
            plan = build_plan(
                school=school,
                source={
                    "binding": src.binding,
                    "platform": src.platform,
                    "title": platform_title(src.platform),
                },
                target={
                    "binding": tgt.binding,
                    "platform": tgt.platform,
                    "title": platform_title(tgt.platform),
                },
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
            store.save_plan(
                plan_id,
                school=school,
                source=(src.binding, src.platform),
                target=(tgt.binding, tgt.platform),
                counts=data["counts"],
                data=data,
            )
        console.print(f"plan {plan_id}", highlight=False)
        _print_counts(data["counts"])
        if plan.pending_review:
            console.print(
                f"{plan.pending_review} identities wait for the operator's review; the plan"
                " cannot be applied until they are decided (plan again with --review FILE)",
                highlight=False,
            )
        console.print(f"written to {out}", highlight=False)


def _print_counts(counts: Mapping[str, Mapping[str, Any]]) -> None:
    for entity, c in counts.items():
        parts = [f"{k} {v}" for k, v in c.items() if k not in ("explained",) and v]
        explained = c.get("explained") or {}
        if explained:
            parts.append("explained " + ", ".join(f"{k} {n}" for k, n in explained.items()))
        console.print(f"  {entity}: " + "; ".join(parts), highlight=False)


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
    with reported_errors(), open_store(_store_url(config, db)) as store:
        row = store.plan(plan_id)
        if row.state != "planned":
            raise ConfigError(f"plan {plan_id} is already {row.state}")
        store.set_plan_state(plan_id, "approved", approved_by=by or getpass.getuser())
        console.print(f"plan {plan_id} approved", highlight=False)


@migrate_app.command("apply")
def apply_cmd(
    plan_id: PlanArg,
    config: ConfigOpt,
    db: DbOpt = None,
) -> None:
    """Send an approved plan's writes through the target's channels (run again to resume)."""
    with reported_errors():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
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
                    hint="decide them in the review file and plan again",
                )
            if row.state in ("applied", "verified"):
                console.print(f"plan {plan_id} is already {row.state}", highlight=False)
                return
            tgt = _binding(cfg, row.school, row.target_binding)
            store.set_plan_state(plan_id, "applying")
            connector = make_connector(cfg, tgt, store)

            async def run() -> Any:
                async with school_lock(store, row.school), connector:
                    return await apply_plan(store, connector, plan_id, plan)

            result = asyncio.run(run())
            out = Path(row.data.get("out") or ".")
            if result.by_channel.get(PushChannel.WORKLIST.value) or result.statuses.get(
                "awaiting_entry"
            ):
                files = write_worklists(
                    store, row.school, tgt.platform, out / "worklists", tgt.timezone
                )
                if files:
                    console.print(
                        f"{len(files) // 3} worklist(s) for hand entry written to"
                        f" {out / 'worklists'}",
                        highlight=False,
                    )
            store.set_plan_state(plan_id, result.state)
        pushed = result.pushed
        console.print(
            f"plan {plan_id} {result.state}: queued {result.queued}, "
            + ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())),
            highlight=False,
        )
        if pushed is not None and pushed.failures:
            for what, why in pushed.failures[:10]:
                console.print(f"  failed: {what.split('/')[0]}: {why}", highlight=False)
        if result.state == "applying":
            die(
                f"plan {plan_id}: some writes were not accepted by the platform",
                EXIT_FAILED,
                f"run `journalsync migrate apply -c {config} {plan_id}` again",
            )


@migrate_app.command("verify")
def verify_cmd(
    plan_id: PlanArg,
    config: ConfigOpt,
    db: DbOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for the certificate (default: the plan's)."),
    ] = None,
    no_pull: Annotated[
        bool, typer.Option("--no-pull", help="Use the target's latest snapshot.")
    ] = False,
) -> None:
    """Pull the target again and write the certificate (``certificate.json`` and ``.pdf``)."""
    with reported_errors():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
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
            )
            shown = shown_keys(
                plan, plan_id=plan_id, target_records=theirs, target_capabilities=caps
            )
            _verify_hand_entries(store, row.school, tgt.platform, shown, statuses)
            where = out or Path(row.data.get("out") or ".")
            private_dir(where)
            meta = [
                *plan_meta(
                    _school_name(theirs, row.school),
                    platform_title(row.source_platform),
                    platform_title(tgt.platform),
                    datetime.now(UTC),
                    tgt.timezone,
                )[:3],
                f"Проверено: {_local(tgt.timezone)}",
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
        if not cert["complete"]:
            raise typer.Exit(EXIT_FAILED)


def _local(zone: str) -> str:
    from core.documents import local_time

    return local_time(datetime.now(UTC), zone)


def _verify_hand_entries(
    store: Store,
    school: str,
    platform: str,
    shown: list[str],
    statuses: Mapping[str, str],
) -> None:
    """Hand-entry items (worklist, package) the target now shows are verified."""
    done = [k for k in shown if statuses.get(k) in ("pending", "awaiting_entry")]
    if done:
        store.set_outbox_status(done, "verified")


@migrate_app.command("list")
def list_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="The config (its store).")
    ] = None,
    db: DbOpt = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
) -> None:
    """The migration plans in the store, with their state."""
    with reported_errors(), open_store(_store_url(config, db)) as store:
        for row in store.plans(school):
            console.print(
                f"{row.id}  {row.school}  {row.source_binding} → {row.target_binding}  {row.state}",
                highlight=False,
            )
