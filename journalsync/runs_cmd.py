"""``journalsync runs approve|discard|list`` and the per-school status table."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.store import Store
from journalsync._common import EXIT_FAILED, console, open_store, reported_errors
from journalsync.config import load_config
from scheduler import Plan, SchoolStatus, approve_run, discard_run, held_runs, school_status

__all__ = ["print_status", "runs_app", "store_for"]

runs_app = typer.Typer(help="Runs: held runs awaiting approval.", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="The municipality's TOML config.")
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: the config's).")]


def store_for(db: str | None, plan: Plan | None) -> Store:
    """``--db`` if given, else the config's store, else $JOURNALSYNC_DB or the default."""
    return open_store(db or (plan.store_url if plan is not None else None))


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@runs_app.command("approve")
def approve(
    run: Annotated[str, typer.Argument(help="Run id (8+ characters) or run key.")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Apply a held run exactly once: a held pull's pages as they were read, then (for a push
    run; needs the config) its push, verified."""
    with reported_errors():
        plan = load_config(config) if config else None
        store = store_for(db, plan)
        report = asyncio.run(approve_run(plan, store, run, actor=_actor()))
        r = report.run
        applied = f"applied {report.pulled.pages} held pages, " if report.pulled else ""
        pushed = r.counts.get("pushed", 0)
        console.print(f"run {r.id[:8]} {r.state.value}: {applied}pushed {pushed}", highlight=False)
        if r.error:
            console.print(f"[red]{r.error}[/]")
            raise typer.Exit(EXIT_FAILED)


@runs_app.command("discard")
def discard(
    run: Annotated[str, typer.Argument(help="Run id (8+ characters) or run key.")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Close a held run without applying it: a held pull's pages are dropped (the next pull
    reads those streams again), a held push's changes stay unapplied for review."""
    with reported_errors():
        plan = load_config(config) if config else None
        store = store_for(db, plan)
        r = discard_run(store, run, actor=_actor())
        n = r.counts.get("discarded", 0)
        console.print(f"run {r.id[:8]} discarded: {n} changes not pushed", highlight=False)


@runs_app.command("list")
def list_(
    config: ConfigOpt = None,
    db: DbOpt = None,
    held: Annotated[bool, typer.Option("--held", help="Only runs awaiting approval.")] = False,
    school: Annotated[str | None, typer.Option("--school")] = None,
) -> None:
    """Recent runs (or the held ones)."""
    with reported_errors():
        plan = load_config(config) if config else None
        store = store_for(db, plan)
        runs = held_runs(store, school) if held else store.runs(school=school, limit=100)
        table = Table(title="Held runs" if held else "Runs")
        for col in ("run", "school", "platform", "operation", "state", "updated", "error"):
            table.add_column(col)
        for r in runs:
            table.add_row(
                r.id[:8],
                r.school,
                r.platform,
                r.operation,
                r.state.value,
                f"{r.updated_at:%Y-%m-%d %H:%M}",
                r.error or "",
            )
        console.print(table)


def print_status(
    plan: Plan | None, store: Store, *, school: str | None = None, as_json: bool = False
) -> None:
    """Per school and platform: last run, state, pulled / pushed / drift, live records,
    quarantined, schema drift, next slot, holds (with their reasons), errors."""
    rows = school_status(plan, store, schools=[school] if school else None)
    if as_json:
        print(json.dumps([r.as_json() for r in rows], ensure_ascii=False))
        return
    table = Table(title=f"Schools — {plan.municipality}" if plan else "Schools")
    for col in ("school", "platform", "last run", "state", "pupils", "pulled", "pushed", "drift"):
        table.add_column(col)
    for col in ("records", "quarantined", "stale", "schema drift", "next slot", "holds", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        nxt = f"{r.next_operation} {r.next_slot:%Y-%m-%d %H:%M %Z}" if r.next_slot else ""
        holds = ", ".join(f"{rid[:8]}: {why}" for rid, why in r.holds)
        last = f"{r.last_operation} {r.updated_at:%m-%d %H:%M}" if r.updated_at else "never"
        table.add_row(
            r.school,
            r.platform,
            last,
            r.state or "",
            _pupils_cell(r),
            str(r.pulled),
            str(r.pushed),
            str(r.drift),
            str(sum(r.records.values())),
            str(sum(r.quarantined.values())),
            str(sum(r.stale.values())),
            _schema_drift_cell(r.drifted_fields),
            nxt,
            holds,
            r.error or "",
        )
    console.print(table)
    failed = sum(1 for r in rows if r.state == "failed")
    partial = sum(1 for r in rows if r.state == "partial")
    held = sum(1 for r in rows if r.holds)
    drifted = sum(1 for r in rows if r.schema_drift)
    stale = sum(1 for r in rows if r.stale)
    console.print(
        f"{len(rows)} schools, {failed} failed, {partial} partial, {held} with held runs, "
        f"{stale} with stale records, "
        f"{drifted} with platform schema drift (journalsync doctor)",
        highlight=False,
    )


def _pupils_cell(r: SchoolStatus) -> str:
    if r.pupils is None:
        return ""
    read, expected = r.pupils
    return f"[red]{r.coverage}[/]" if read < expected else r.coverage


def _schema_drift_cell(fields: list[str]) -> str:
    if not fields:
        return ""
    shown = ", ".join(fields[:2]) + (f", … {len(fields) - 2} more" if len(fields) > 2 else "")
    return f"[yellow]{shown}[/]"
