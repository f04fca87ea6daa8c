"""The ``journalsync`` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.connector import PullMode
from core.errors import ConfigError, JournalSyncError
from core.importer import import_file
from core.logging import configure_logging
from core.process import tune_gc
from core.store import RunState
from core.sync import PullResult, RunReport, reconcile, sync_school
from core.sync import push as push_school
from journalsync._common import (
    EXIT_FAILED,
    EXIT_HELD,
    PLATFORM_HELP,
    build_connector,
    console,
    die,
    err_console,
    exit_code_for,
    open_store,
    report_unexpected,
    reported_errors,
    school_lock,
    store_options,
)
from journalsync.alerts_cmd import alerts_app
from journalsync.config_cmd import config_app
from journalsync.credentials_cmd import credentials_app
from journalsync.doctor_cmd import doctor
from journalsync.drift_cmd import PAGE_SIZE, DriftFormat, export_findings, print_findings
from journalsync.package_cmd import package
from journalsync.report_cmd import report
from journalsync.runs_cmd import print_status, runs_app
from journalsync.sandbox_cmd import sandbox_app
from journalsync.serve_cmd import serve, worker
from journalsync.template_cmd import template
from journalsync.tokens_cmd import tokens_app
from journalsync.web_cmd import web
from journalsync.worklist_cmd import worklist

app = typer.Typer(
    name="journalsync",
    help="Sync school e-journals between Russian regional platforms and a local store.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(credentials_app, name="credentials")
app.command("worklist")(worklist)
app.command("package")(package)
app.command("report")(report)
app.add_typer(config_app, name="config")
app.add_typer(runs_app, name="runs")
app.command("serve")(serve)
app.command("worker")(worker)
app.command("doctor")(doctor)
app.command("web")(web)
app.add_typer(tokens_app, name="tokens")
app.command("template")(template)
app.add_typer(alerts_app, name="alerts")

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (default $JOURNALSYNC_DB or sqlite:///journalsync.db)."),
]
SchoolOpt = Annotated[str, typer.Option("--school", help="The school's slug in journalsync.")]
PlatformOpt = Annotated[str, typer.Option("--platform", help=PLATFORM_HELP)]
BaseUrlOpt = Annotated[str, typer.Option("--base-url", help="The platform's origin URL.")]
PlatformSchoolOpt = Annotated[
    str, typer.Option("--platform-school", help="The school as the platform names it.")
]
LoginOpt = Annotated[str, typer.Option("--login", help="Login on the platform.")]
PasswordEnvOpt = Annotated[
    str,
    typer.Option("--password-env", help="Environment variable holding the password."),
]
TodayOpt = Annotated[
    str | None, typer.Option("--today", help="Treat this date (YYYY-MM-DD) as today.")
]
JsonLogOpt = Annotated[bool, typer.Option("--json-logs", help="Log as JSON lines.")]


def _today(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    json_logs: JsonLogOpt = False,
    init_store: Annotated[
        bool,
        typer.Option(
            "--init-store",
            help="Add journalsync's tables to a SQLite database that holds other tables.",
        ),
    ] = False,
) -> None:
    configure_logging(json=json_logs, level="DEBUG" if verbose else "WARNING")
    store_options.init = init_store


@app.command()
def pull(
    school: SchoolOpt,
    platform: PlatformOpt,
    base_url: BaseUrlOpt,
    platform_school: PlatformSchoolOpt,
    login: LoginOpt,
    password_env: PasswordEnvOpt = "JOURNALSYNC_PASSWORD",
    db: DbOpt = None,
    mode: Annotated[PullMode, typer.Option("--mode")] = PullMode.FULL,
    today: TodayOpt = None,
) -> None:
    """Pull a school's journal from its platform into the store (resumes after a crash)."""
    with reported_errors():
        store = open_store(db)
        connector = build_connector(
            store,
            platform=platform,
            base_url=base_url,
            school=school,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
            today=_today(today),
        )

        key = f"{school}:{platform}:pull:manual:{uuid.uuid4().hex[:12]}"

        async def run() -> RunReport:
            async with school_lock(store, school), connector:
                return await sync_school(
                    store, connector, run_key=key, operation="pull", mode=mode, do_push=False
                )

        report = asyncio.run(run())
        if report.error is not None:
            raise report.error  # reported with its exit code (credentials, platform down …)
        result = report.pulled or PullResult()
        stale = f", {result.stale} kept stale" if result.stale else ""
        console.print(
            f"pulled {result.records} records in {result.pages} pages: "
            f"{result.inserted} new, {result.updated} changed, {result.deleted} deleted, "
            f"{result.quarantined} quarantined{stale}",
            highlight=False,
        )
        _exit_if_held(report)


@app.command()
def drift(
    school: SchoolOpt,
    platform: PlatformOpt,
    db: DbOpt = None,
    status: Annotated[
        str, typer.Option("--status", help="open, accepted, resolved, or all")
    ] = "open",
    reconcile_first: Annotated[
        bool, typer.Option("--reconcile/--no-reconcile", help="Compare again before listing.")
    ] = True,
    fmt: Annotated[
        DriftFormat, typer.Option("--format", help="table (terminal), json, csv or xlsx.")
    ] = DriftFormat.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", help="File for json/csv/xlsx (every finding).")
    ] = None,
    page: Annotated[int, typer.Option("--page", help="Terminal page (from 1).")] = 1,
    limit: Annotated[
        int, typer.Option("--limit", help="Findings per terminal page; 0 = all.")
    ] = PAGE_SIZE,
) -> None:
    """Show the drift between local records and the platform's snapshot, in words."""
    with reported_errors():
        if status not in ("open", "accepted", "resolved", "all"):
            raise ConfigError(f"--status {status!r}: use open, accepted, resolved or all")
        if fmt is not DriftFormat.TABLE and out is None:
            raise ConfigError(f"--format {fmt.value} needs --out FILE")
        if limit < 0:
            raise ConfigError("--limit must be 0 (all) or more")
        store = open_store(db)
        if reconcile_first:
            with school_lock(store, school):
                reconcile(store, school, platform)
        wanted = None if status == "all" else status
        if fmt is DriftFormat.TABLE:
            print_findings(store, school, platform, wanted, page=page, limit=limit)
            return
        assert out is not None
        n = export_findings(store, school, platform, wanted, fmt, out)
        console.print(f"written {out}: {n} findings", highlight=False, soft_wrap=True)


@app.command()
def push(
    school: SchoolOpt,
    platform: PlatformOpt,
    base_url: BaseUrlOpt,
    platform_school: PlatformSchoolOpt,
    login: LoginOpt,
    password_env: PasswordEnvOpt = "JOURNALSYNC_PASSWORD",
    db: DbOpt = None,
) -> None:
    """Push the outbox to the platform and verify by reading back."""
    with reported_errors():
        store = open_store(db)
        connector = build_connector(
            store,
            platform=platform,
            base_url=base_url,
            school=school,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
        )

        async def run() -> int:
            async with school_lock(store, school), connector:
                result = await push_school(store, connector)
            console.print(
                f"pushed {result.sent}, verified {result.verified}, failed {result.failed}, "
                f"awaiting hand entry {result.awaiting_entry}"
            )
            for ref, reason in result.failures[:20]:
                console.print(f"  [red]failed[/] {ref}: {reason}")
            return result.failed

        if asyncio.run(run()):
            raise typer.Exit(EXIT_FAILED)


@app.command()
def sync(
    school: SchoolOpt,
    platform: PlatformOpt,
    base_url: BaseUrlOpt,
    platform_school: PlatformSchoolOpt,
    login: LoginOpt,
    password_env: PasswordEnvOpt = "JOURNALSYNC_PASSWORD",
    db: DbOpt = None,
    mode: Annotated[PullMode, typer.Option("--mode")] = PullMode.FULL,
    run_key: Annotated[str | None, typer.Option("--run-key")] = None,
) -> None:
    """Run a whole cycle: pull, reconcile, push, verify."""
    with reported_errors():
        store = open_store(db)
        connector = build_connector(
            store,
            platform=platform,
            base_url=base_url,
            school=school,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
        )
        key = run_key or f"{school}:{platform}:sync:manual:{uuid.uuid4().hex[:12]}"

        async def run() -> None:
            async with school_lock(store, school), connector:
                report = await sync_school(store, connector, run_key=key, mode=mode)
            console.print(f"run {report.run.id[:8]} {report.run.state}: {report.counts()}")
            if report.run.error:
                console.print(f"[red]{report.run.error}[/]")
                raise typer.Exit(EXIT_FAILED)
            _exit_if_held(report)

        asyncio.run(run())


def _exit_if_held(report: RunReport) -> None:
    """A held run: say why and what to do, and exit with the "held" code."""
    run = report.run
    if run.state is not RunState.HELD:
        return
    why = report.pulled.held if report.pulled and report.pulled.held else "see `runs list --held`"
    err_console.print(
        f"[yellow]run {run.id[:8]} is held for a person[/]: {why}\n"
        f"nothing of it was applied; `journalsync runs approve {run.id[:8]}` applies it, "
        f"`journalsync runs discard {run.id[:8]}` drops it",
        highlight=False,
    )
    raise typer.Exit(EXIT_HELD)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, readable=True)],
    school: SchoolOpt,
    platform: Annotated[str | None, typer.Option("--platform", help="Default: -c's.")] = None,
    db: DbOpt = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
) -> None:
    """Import a local journal: CSV or XLSX (see the README for the columns), an offline journal
    from `template`, or a OneRoster 1.2 CSV set (a .zip or a directory)."""
    from journalsync.template_cmd import school_binding

    with reported_errors():
        plat, url = school_binding(config, school, platform, db)
        store = open_store(url)
        with school_lock(store, school):
            result = import_file(store, school, plat, file, actor=f"import:{file.name}")
        console.print(f"{file.name}: {result.rows} rows ({result.form})")
        console.print(
            f"imported {result.records} records ({result.inserted} new, "
            f"{result.updated} changed); {len(result.quarantine)} rows quarantined "
            f"({result.conflicts} in conflicts, {result.quarantine_added} newly)"
        )
        for q in result.quarantine[:20]:
            console.print(f"  [yellow]quarantined[/] {q.reason}")


@app.command()
def status(
    db: DbOpt = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Municipality config: every school.")
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, however wide the terminal.")
    ] = False,
) -> None:
    """Per school: last run, state, pulled / pushed / drift, next slot, holds, errors."""
    from journalsync.config import load_config

    with reported_errors():
        plan = load_config(config) if config else None
        store = open_store(db or (plan.store_url if plan else None))
        print_status(plan, store, school=school, as_json=as_json, wide=wide)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option("--workdir")] = Path("out/demo"),
    seed: Annotated[int, typer.Option("--seed")] = 7,
) -> None:
    """Run the whole loop against the bundled emulator on loopback (see journalsync/demo.py)."""
    from journalsync.demo import run_demo

    with reported_errors():
        started = datetime.now(UTC)
        result = run_demo(workdir, seed=seed)
        console.print(f"demo finished in {(datetime.now(UTC) - started).total_seconds():.1f} s")
        raise typer.Exit(result.exit_code)


def main() -> None:
    """The entry point: every failure ends as one message and the README's exit code."""
    # Owner-only files and folders for whatever is created without an explicit mode (SQLite's
    # temporary files, third-party writers); core's writers set 0600/0700 themselves.
    os.umask(0o077)
    tune_gc()
    try:
        app()
    except JournalSyncError as exc:  # raised outside a command's own reported_errors()
        die(exc.message, exit_code_for(exc), exc.hint)
    except KeyboardInterrupt:
        die("interrupted", EXIT_FAILED)
    except Exception as exc:  # the last resort: a message, not a traceback
        report_unexpected(exc)
