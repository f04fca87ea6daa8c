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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.errors import ConfigError
from core.store import Store
from journalsync._common import (
    EXIT_FAILED,
    console,
    die,
    lock_wait,
    open_store,
    reported_errors,
)
from journalsync.config import load_config
from scheduler import (
    MigrationJob,
    MigrationOutcome,
    MigrationStopped,
    Plan,
    Runner,
    SchoolPlan,
    apply_migration,
    migrate_schools,
    plan_migration,
    roster_package,
    verify_migration,
)

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


Stopped = MigrationStopped


class Engine(StrEnum):
    EMBEDDED = "embedded"
    TEMPORAL = "temporal"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="With --all: run the schools on the embedded engine (in this process, in parallel"
        " within the config's limits) or on Temporal (a workflow per school; `journalsync"
        " worker` runs them).",
    ),
]


@contextmanager
def _reported() -> Iterator[None]:
    """:func:`reported_errors`, with :class:`Stopped`'s own exit code."""
    with reported_errors():
        try:
            yield
        except Stopped as exc:
            die(exc.message, exc.code, exc.hint)


PlanArg = Annotated[str, typer.Argument(help="The plan's id (printed by `migrate plan`).")]


def _store_url(config: Path | None, db: str | None) -> str | None:
    if db or config is None:
        return db
    return load_config(config, check_platforms=False).store_url or None


def _say(text: str) -> None:
    console.print(text, highlight=False)


def _binding(plan: Plan, slug: str, name: str) -> SchoolPlan:
    return plan.binding(slug, name)


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
    and save the plan (:func:`scheduler.plan_migration`). Returns its id and JSON."""
    return asyncio.run(
        plan_migration(
            cfg,
            store,
            src,
            tgt,
            out,
            no_pull=no_pull,
            review=review,
            lock_wait=lock_wait(),
            say=_say,
        )
    )


_roster_package = roster_package


def _apply_one(cfg: Plan, store: Store, plan_id: str, config: Path) -> str:
    """Apply one plan; returns its state (``applying`` raises :class:`Stopped`)."""
    wait = lock_wait()
    return asyncio.run(
        apply_migration(cfg, store, plan_id, config=str(config), lock_wait=wait, say=_say)
    )


def _verify_one(
    cfg: Plan, store: Store, plan_id: str, config: Path, out: Path | None, *, no_pull: bool
) -> dict[str, Any]:
    """Pull the target, write the certificate, move the plan on; returns the certificate."""
    wait = lock_wait()
    return asyncio.run(
        verify_migration(
            cfg,
            store,
            plan_id,
            out=out,
            no_pull=no_pull,
            config=str(config),
            lock_wait=wait,
            say=_say,
        )
    )


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


def _run_all(
    cfg: Plan,
    step: str,
    jobs: list[MigrationJob],
    engine: Engine,
    config: Path,
    *,
    store: Store | None = None,
    out: Path | None = None,
    no_pull: bool = False,
) -> list[MigrationOutcome]:
    """``step`` for every school on ``engine`` (embedded: in this process, within the runner's
    limits, on ``store``); one school's failure is its outcome."""
    if engine is Engine.TEMPORAL:
        from scheduler.temporal import connect, migrate_all

        async def on_temporal() -> list[MigrationOutcome]:
            client = await connect(cfg)
            console.print(
                f"{step}: {len(jobs)} school(s) as workflows on Temporal ({cfg.temporal.address});"
                " `journalsync worker` runs them",
                highlight=False,
            )
            return await migrate_all(
                client, cfg, step, jobs, out=out, no_pull=no_pull, config=str(config)
            )

        return asyncio.run(on_temporal())
    assert store is not None
    runner = Runner(cfg, store, lock_wait=lock_wait())
    return asyncio.run(
        migrate_schools(runner, step, jobs, out=out, no_pull=no_pull, config=str(config), say=_say)
    )


def _jobs(store: Store, latest: Mapping[str, str]) -> list[MigrationJob]:
    """Each school's latest plan, on its target's platform."""
    return [
        MigrationJob(school, store.plan(pid).target_platform, plan_id=pid)
        for school, pid in latest.items()
    ]


def _outcome_summary(outcomes: list[MigrationOutcome], *, all_done: bool = False) -> None:
    """The table of every school's state; exit 1 when any failed or was refused (``all_done``:
    also while any awaits hand entry — a migration not yet complete)."""
    table = Table(title="schools", show_lines=False)
    for name in ("school", "state", "plan", "detail"):
        table.add_column(name)
    for o in outcomes:
        table.add_row(o.school, o.state, o.plan_id, o.reason or o.plan_state)
    console.print(table)
    bad = ("failed", "refused") if not all_done else ("failed", "refused", "awaiting entry")
    if any(o.state in bad for o in outcomes):
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
    engine: EngineOpt = Engine.EMBEDDED,
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
                jobs = [
                    MigrationJob(s.slug, t.platform, source=s.binding, target=t.binding)
                    for s, t in _pairs(cfg, from_platform, to_platform)
                ]
                outcomes = _run_all(
                    cfg, "plan", jobs, engine, config, store=store, out=out, no_pull=no_pull
                )
                _outcome_summary(outcomes)
                return
            if not (school and source and target):
                raise ConfigError("give --school, --from and --to (or --all)")
            if engine is Engine.TEMPORAL:
                raise ConfigError(
                    "--engine temporal runs the schools of --all; one plan runs here",
                    hint="drop --engine, or give --all --from-platform P --to-platform Q",
                )
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
    store: Store,
    plan_id: str | None,
    every: bool,
    src: str | None,
    dst: str | None,
    engine: Engine = Engine.EMBEDDED,
) -> dict[str, str] | None:
    """``None`` for one plan; for ``--all`` the latest plan id per school."""
    if not every and engine is Engine.TEMPORAL:
        raise ConfigError(
            "--engine temporal runs the schools of --all; one plan runs here",
            hint="drop --engine, or give --all --from-platform P --to-platform Q",
        )
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
    engine: EngineOpt = Engine.EMBEDDED,
) -> None:
    """Send an approved plan's writes through the target's channels (run again to resume)."""
    with _reported():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
            latest = _many(store, plan_id, every, from_platform, to_platform, engine)
            if latest is None:
                assert plan_id is not None
                _apply_one(cfg, store, plan_id, config)
                return
            outcomes = _run_all(cfg, "apply", _jobs(store, latest), engine, config, store=store)
        _outcome_summary(outcomes)


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
    engine: EngineOpt = Engine.EMBEDDED,
) -> None:
    """Pull the target again and write the certificate (``certificate.json`` and ``.pdf``);
    exits 1 while the migration is not complete (unexplained or awaited entries)."""
    with _reported():
        cfg = load_config(config)
        with open_store(db or cfg.store_url or None) as store:
            latest = _many(store, plan_id, every, from_platform, to_platform, engine)
            if latest is None:
                assert plan_id is not None
                cert = _verify_one(cfg, store, plan_id, config, out, no_pull=no_pull)
                if not cert["complete"]:
                    raise typer.Exit(EXIT_FAILED)
                return

            outcomes = _run_all(
                cfg,
                "verify",
                _jobs(store, latest),
                engine,
                config,
                store=store,
                out=out,
                no_pull=no_pull,
            )
        _outcome_summary(outcomes, all_done=True)


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
