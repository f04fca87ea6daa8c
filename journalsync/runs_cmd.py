"""``journalsync runs approve|discard|list`` and the per-school status table."""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from core.importer import CarryOver, carry_over
from core.platform import get_platform
from core.store import RunState, Store
from core.sync import Coverage
from journalsync._common import EXIT_FAILED, EXIT_PARTIAL, console, open_store, reported_errors
from journalsync.config import load_config
from journalsync.status_table import render_status
from scheduler import Plan, approve_run, discard_run, held_runs, hold_reason, school_status

__all__ = ["print_coverage", "print_status", "runs_app", "store_for"]

runs_app = typer.Typer(help="Runs: held runs awaiting approval.", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="The municipality's TOML config.")
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: the config's).")]


def store_for(db: str | None, plan: Plan | None) -> Store:
    """``--db`` if given, else the config's store, else $JOURNALSYNC_DB or the default."""
    return open_store(db or (plan.store_url if plan is not None else None))


def actor() -> str:
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
        report = asyncio.run(approve_run(plan, store, run, actor=actor()))
        r = report.run
        applied = f"applied {report.pulled.pages} held pages, " if report.pulled else ""
        pushed = r.counts.get("pushed", 0)
        console.print(f"run {r.id[:8]} {r.state.value}: {applied}pushed {pushed}", highlight=False)
        if r.state is RunState.PARTIAL:  # approved, but the pull read too few pupils
            print_coverage(report.coverage, r.school)
            raise typer.Exit(EXIT_PARTIAL)
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
        r = discard_run(store, run, actor=actor())
        n = r.counts.get("discarded", 0)
        console.print(f"run {r.id[:8]} discarded: {n} changes not pushed", highlight=False)


@runs_app.command("list")
def list_(
    config: ConfigOpt = None,
    db: DbOpt = None,
    held: Annotated[bool, typer.Option("--held", help="Only runs awaiting approval.")] = False,
    school: Annotated[str | None, typer.Option("--school")] = None,
) -> None:
    """Recent runs (or the held ones, with why each is held)."""
    with reported_errors():
        plan = load_config(config) if config else None
        store = store_for(db, plan)
        runs = held_runs(store, school) if held else store.runs(school=school, limit=100)
        rows = [
            (
                r.id[:8],
                r.school,
                r.platform,
                r.operation,
                *(() if held else (r.state.value,)),
                f"{r.updated_at:%Y-%m-%d %H:%M}",
            )
            for r in runs
        ]
        texts = [(hold_reason(store, r) or "held") if held else (r.error or "") for r in runs]
        headers = ("run", "school", "platform", "operation", *(() if held else ("state",)))
        headers += ("held since" if held else "updated",)
        widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
        # Too wide for the terminal: the operation, then the platform, are left out (named).
        keep = list(range(len(headers)))
        hidden: list[str] = []
        for drop in ("operation", "platform"):
            if sum(widths[i] + 3 for i in keep) + 1 > console.width:
                keep.remove(headers.index(drop))
                hidden.append(drop)
        headers = tuple(headers[i] for i in keep)
        widths = [widths[i] for i in keep]
        rows = [tuple(row[i] for i in keep) for row in rows]
        # The reason gets a column when the terminal leaves it room; else it follows its row's
        # table as a line of its own. Ids, names and headers are never cut ("scho…").
        room = console.width - sum(w + 3 for w in widths) - 4
        inline = room >= 24 or not any(texts)
        table = Table(title="Held runs" if held else "Runs")
        for h, w in zip(headers, widths, strict=True):
            table.add_column(h, no_wrap=True, min_width=w)
        if inline:
            table.add_column("reason" if held else "error", overflow="fold", min_width=12)
        for row, text in zip(rows, texts, strict=True):
            table.add_row(*(Text(cell) for cell in row), *((Text(text),) if inline else ()))
        console.print(table)
        if hidden:
            console.print(f"not shown at {console.width} columns: {', '.join(hidden)}")
        if not inline:
            for row, text in zip(rows, texts, strict=True):
                if text:
                    label = "held" if held else "error"
                    console.print(Text(f"{row[0]} {label}: {text}"))


def _zone(plan: Plan | None, school: str, platform: str) -> str:
    """The school's zone from the config, else its platform's default (the one zone rule)."""
    zone = next((s.timezone for s in plan.schools if s.slug == school), None) if plan else None
    return zone or get_platform(platform).timezone


def _carry(plan: Plan | None, store: Store, school: str, platform: str) -> CarryOver | None:
    return carry_over(store, school, platform, _zone(plan, school, platform))


def _print_carry_over(plan: Plan | None, store: Store, bindings: list[tuple[str, str]]) -> None:
    """Offline journals not yet carried over, with the deadline of regulation 002 §13.2."""
    for school, platform in bindings:
        found = _carry(plan, store, school, platform)
        if found is not None:
            console.print(
                f"[yellow]{school} ({platform})[/]: "
                f"{found.text(datetime.now(ZoneInfo(_zone(plan, school, platform))).date())}",
                highlight=False,
            )


def print_coverage(coverage: Coverage | None, slug: str) -> None:
    """The pupils read, and — for the operator's eyes only, never a log — who was not."""
    if coverage is None:
        return
    if coverage.ok and not coverage.missing:
        console.print(f"coverage: {coverage.figure}", highlight=False)
        return
    colour = "green" if coverage.ok else "red"
    console.print(f"[{colour}]{coverage.summary()}[/]", highlight=False)
    for class_name, names in coverage.missing_by_class().items():
        console.print(f"  not read in {class_name}: {', '.join(names)}", highlight=False)
    console.print(
        f"  check their accounts: journalsync accounts list --school {slug}", highlight=False
    )


def print_status(
    plan: Plan | None,
    store: Store,
    *,
    school: str | None = None,
    as_json: bool = False,
    wide: bool = False,
    binding: str | None = None,
) -> None:
    """Per school and platform: last run, state, pulled / pushed / drift, live records,
    quarantined, schema drift, next slot, holds (with their reasons), errors — the columns that
    fit the terminal (``wide``: all of them)."""
    rows = school_status(plan, store, schools=[school] if school else None)
    if binding is not None:
        rows = [r for r in rows if r.binding == binding]
    if as_json:
        out = [r.as_json() for r in rows]
        for item, r in zip(out, rows, strict=True):
            if found := _carry(plan, store, r.school, r.platform):
                item["offline_journal"] = {
                    "pending": found.pending,
                    "imported_at": found.imported_at.isoformat(),
                    "access_back_at": found.resumed_at.isoformat() if found.resumed_at else None,
                    "deadline": found.deadline.isoformat() if found.deadline else None,
                    "rule": "regulation 002 §13.2: within 2 working days once access is back",
                }
        print(json.dumps(out, ensure_ascii=False))
        return
    title = f"Schools — {plan.municipality}" if plan else "Schools"
    render_status(console, rows, title=title, wide=wide)
    _print_carry_over(plan, store, [(r.school, r.platform) for r in rows])
    failed = sum(1 for r in rows if r.state == "failed")
    partial = sum(1 for r in rows if r.state == "partial")
    held = sum(1 for r in rows if r.holds)
    drifted = sum(1 for r in rows if r.schema_drift)
    stale = sum(1 for r in rows if r.stale)
    schools = len({r.school for r in rows})
    bound = f" ({len(rows)} platform bindings)" if schools != len(rows) else ""
    console.print(
        f"{schools} schools{bound}, {failed} failed, {partial} partial, {held} with held runs, "
        f"{stale} with stale records, "
        f"{drifted} with platform schema drift (journalsync doctor)",
        highlight=False,
    )
