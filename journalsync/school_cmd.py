"""``journalsync pull|push|sync|drift|import|status|demo``: one school's runs from the command line.

With ``-c journalsync.toml --school SLUG`` a school is built exactly as the scheduler builds it
(:func:`scheduler.make_connector`): platform, URL, every family account, time zone, options and
the host's HTTP limits come from the config, and flags only override. Without a config the flags
name a school of one account (``--platform --base-url --login``, the password in
``$JOURNALSYNC_PASSWORD`` or ``--password-env``); ``--platform-school`` only where the platform
uses it (NetSchool).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from core.connector import Connector, PullMode
from core.errors import ConfigError
from core.importer import import_file
from core.store import RunState, Store
from core.sync import PullResult, RunReport, reconcile, sync_school
from core.sync import push as push_school
from journalsync._common import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_PARTIAL,
    PLATFORM_HELP,
    console,
    err_console,
    open_store,
    reported_errors,
    school_lock,
)
from journalsync.config import load_config
from journalsync.drift_cmd import PAGE_SIZE, DriftFormat, export_findings, print_findings
from journalsync.runs_cmd import print_coverage, print_status
from scheduler import Plan, SchoolPlan, SecretRef, make_connector

__all__ = ["SchoolChoice", "demo", "drift", "import_", "pull", "push", "status", "sync"]

DEFAULT_PASSWORD_ENV = "JOURNALSYNC_PASSWORD"

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The municipality config: the school's platform, URL, accounts and options.",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store URL (default: the config's, else $JOURNALSYNC_DB or sqlite:///journalsync.db).",
    ),
]
SchoolOpt = Annotated[str, typer.Option("--school", help="The school's slug in journalsync.")]
PlatformOpt = Annotated[
    str | None,
    typer.Option("--platform", help=PLATFORM_HELP + " (from the config with -c)"),
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="The platform's origin URL (overrides -c).")
]
PlatformSchoolOpt = Annotated[
    str | None,
    typer.Option(
        "--platform-school",
        help="The school as the platform names it, where the platform needs it (NetSchool).",
    ),
]
LoginOpt = Annotated[
    str | None, typer.Option("--login", help="Login on the platform (overrides -c).")
]
PasswordEnvOpt = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        help=f"Environment variable holding the password (default {DEFAULT_PASSWORD_ENV}"
        " without -c).",
    ),
]
BindingOpt = Annotated[
    str | None,
    typer.Option(
        "--binding",
        help="Which of the school's platform bindings in -c (default: the one in effect today).",
    ),
]
TodayOpt = Annotated[
    str | None, typer.Option("--today", help="Treat this date (YYYY-MM-DD) as today.")
]


@dataclass(frozen=True, slots=True)
class SchoolChoice:
    """The school a command runs for, from ``-c`` and/or the flags."""

    plan: Plan
    school: SchoolPlan
    store_url: str | None

    def open_store(self) -> Store:
        return open_store(self.store_url)

    def connector(self, store: Store) -> Connector:
        """Built as the scheduler builds it (saved state, the host's HTTP limits)."""
        return make_connector(self.plan, self.school, store)


def choose_school(
    config: Path | None,
    slug: str,
    *,
    db: str | None = None,
    platform: str | None = None,
    base_url: str | None = None,
    platform_school: str | None = None,
    login: str | None = None,
    password_env: str | None = None,
    today: str | None = None,
    need_login: bool = True,
    binding: str | None = None,
) -> SchoolChoice:
    """The school from the config (flags override it), or from the flags alone.

    A school bound to several platforms: ``binding`` names one; else ``platform`` picks the
    binding on that platform; else the binding in effect on the school's date."""
    store_url: str | None
    if config is not None:
        plan = load_config(config)
        if not any(s.slug == slug for s in plan.schools):
            known = ", ".join(dict.fromkeys(s.slug for s in plan.schools))
            raise ConfigError(f"{config}: no school {slug!r}; the config has: {known}")
        if binding is None and platform:
            found = [s for s in plan.bindings(slug) if s.platform == platform]
            school = found[0] if found else plan.binding(slug)
        else:
            school = plan.binding(slug, binding)
        if platform and platform != school.platform:
            raise ConfigError(
                f"--platform {platform}: school {slug!r} is on {school.platform} in {config}"
                + (f" (binding {school.binding})" if len(plan.bindings(slug)) > 1 else "")
            )
        store_url = db or plan.store_url
    else:
        if binding is not None:
            raise ConfigError(
                f"--binding {binding}: bindings are named in the config; give -c journalsync.toml"
            )
        missing = [
            flag
            for flag, value in (
                ("--platform", platform),
                ("--base-url", base_url if need_login else "-"),
                ("--login", login if need_login else "-"),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"no config: give {', '.join(missing)}",
                hint=f"or take everything from the config: -c journalsync.toml --school {slug}",
            )
        assert platform is not None
        plan = Plan(municipality="", timezone="Europe/Moscow", store_url="", schools=())
        school = SchoolPlan(
            slug=slug,
            name=slug,
            platform=platform,
            base_url=(base_url or "").rstrip("/"),
            platform_school="",
            login=login or "",
            password=SecretRef(env=password_env or DEFAULT_PASSWORD_ENV),
            timezone="Europe/Moscow",
        )
        store_url = db
    changes: dict[str, object] = {}
    if base_url:
        changes["base_url"] = base_url.rstrip("/")
    if platform_school is not None:
        changes["platform_school"] = platform_school
    if login:
        changes["login"] = login
    if password_env:
        changes["password"], changes["token"] = SecretRef(env=password_env), None
    if today:
        try:
            changes["today"] = date.fromisoformat(today)
        except ValueError:
            raise ConfigError(f"--today {today!r}: give a date as YYYY-MM-DD") from None
    if changes:
        school = replace(school, **changes)  # type: ignore[arg-type]
    return SchoolChoice(plan, school, store_url)


def pull(
    school: SchoolOpt,
    config: ConfigOpt = None,
    binding: BindingOpt = None,
    platform: PlatformOpt = None,
    base_url: BaseUrlOpt = None,
    platform_school: PlatformSchoolOpt = None,
    login: LoginOpt = None,
    password_env: PasswordEnvOpt = None,
    db: DbOpt = None,
    mode: Annotated[PullMode, typer.Option("--mode")] = PullMode.FULL,
    today: TodayOpt = None,
) -> None:
    """Pull a school's journal from its platform into the store (resumes after a crash)."""
    with reported_errors():
        chosen = choose_school(
            config,
            school,
            db=db,
            platform=platform,
            base_url=base_url,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
            today=today,
            binding=binding,
        )
        store = chosen.open_store()
        sp = chosen.school
        connector = chosen.connector(store)
        key = f"{sp.slug}:{sp.platform}:pull:manual:{uuid.uuid4().hex[:12]}"

        async def run() -> RunReport:
            async with school_lock(store, sp.slug), connector:
                return await sync_school(
                    store,
                    connector,
                    run_key=key,
                    operation="pull",
                    mode=mode,
                    do_push=False,
                    min_coverage=sp.min_coverage,
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
        print_coverage(report.coverage, sp.slug)
        _exit_if_held(report)
        _exit_if_partial(report)


def push(
    school: SchoolOpt,
    config: ConfigOpt = None,
    binding: BindingOpt = None,
    platform: PlatformOpt = None,
    base_url: BaseUrlOpt = None,
    platform_school: PlatformSchoolOpt = None,
    login: LoginOpt = None,
    password_env: PasswordEnvOpt = None,
    db: DbOpt = None,
) -> None:
    """Push the outbox to the platform and verify by reading back."""
    with reported_errors():
        chosen = choose_school(
            config,
            school,
            db=db,
            platform=platform,
            base_url=base_url,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
            binding=binding,
        )
        store = chosen.open_store()
        connector = chosen.connector(store)

        async def run() -> int:
            async with school_lock(store, chosen.school.slug), connector:
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


def sync(
    school: SchoolOpt,
    config: ConfigOpt = None,
    binding: BindingOpt = None,
    platform: PlatformOpt = None,
    base_url: BaseUrlOpt = None,
    platform_school: PlatformSchoolOpt = None,
    login: LoginOpt = None,
    password_env: PasswordEnvOpt = None,
    db: DbOpt = None,
    mode: Annotated[PullMode, typer.Option("--mode")] = PullMode.FULL,
    run_key: Annotated[str | None, typer.Option("--run-key")] = None,
) -> None:
    """Run a whole cycle: pull, reconcile, push, verify."""
    with reported_errors():
        chosen = choose_school(
            config,
            school,
            db=db,
            platform=platform,
            base_url=base_url,
            platform_school=platform_school,
            login=login,
            password_env=password_env,
            binding=binding,
        )
        store = chosen.open_store()
        sp = chosen.school
        connector = chosen.connector(store)
        key = run_key or f"{sp.slug}:{sp.platform}:sync:manual:{uuid.uuid4().hex[:12]}"

        async def run() -> None:
            async with school_lock(store, sp.slug), connector:
                report = await sync_school(
                    store, connector, run_key=key, mode=mode, min_coverage=sp.min_coverage
                )
            console.print(f"run {report.run.id[:8]} {report.run.state}: {report.counts()}")
            print_coverage(report.coverage, sp.slug)
            if report.run.state is RunState.FAILED:
                console.print(f"[red]{report.run.error}[/]")
                raise typer.Exit(EXIT_FAILED)
            _exit_if_held(report)
            _exit_if_partial(report)

        asyncio.run(run())


def drift(
    school: SchoolOpt,
    config: ConfigOpt = None,
    binding: BindingOpt = None,
    platform: PlatformOpt = None,
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
        chosen = choose_school(
            config, school, db=db, platform=platform, need_login=False, binding=binding
        )
        store = chosen.open_store()
        on = chosen.school.platform
        if reconcile_first:
            with school_lock(store, school):
                reconcile(store, school, on)
        wanted = None if status == "all" else status
        if fmt is DriftFormat.TABLE:
            print_findings(store, school, on, wanted, page=page, limit=limit)
            return
        assert out is not None
        n = export_findings(store, school, on, wanted, fmt, out)
        console.print(f"written {out}: {n} findings", highlight=False, soft_wrap=True)


def import_(
    file: Annotated[Path, typer.Argument(exists=True, readable=True)],
    school: SchoolOpt,
    config: ConfigOpt = None,
    binding: BindingOpt = None,
    platform: PlatformOpt = None,
    db: DbOpt = None,
) -> None:
    """Import a local journal: CSV or XLSX (see the README for the columns), an offline journal
    from `template`, or a OneRoster 1.2 CSV set (a .zip or a directory)."""
    with reported_errors():
        chosen = choose_school(
            config, school, db=db, platform=platform, need_login=False, binding=binding
        )
        store = chosen.open_store()
        with school_lock(store, school):
            result = import_file(
                store, school, chosen.school.platform, file, actor=f"import:{file.name}"
            )
        console.print(f"{file.name}: {result.rows} rows ({result.form})")
        console.print(
            f"imported {result.records} records ({result.inserted} new, "
            f"{result.updated} changed); {len(result.quarantine)} rows quarantined "
            f"({result.conflicts} in conflicts, {result.quarantine_added} newly)"
        )
        for q in result.quarantine[:20]:
            console.print(f"  [yellow]quarantined[/] {q.reason}")


def status(
    db: DbOpt = None,
    school: Annotated[str | None, typer.Option("--school")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    config: ConfigOpt = None,
    binding: Annotated[
        str | None,
        typer.Option("--binding", help="Only this binding of --school (a school on several)."),
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, however wide the terminal.")
    ] = False,
) -> None:
    """Per school: last run, state, pupils read, pulled / pushed / drift, next slot, holds."""
    with reported_errors():
        plan = load_config(config) if config else None
        if binding is not None:
            if plan is None or school is None:
                raise ConfigError("--binding needs -c CONFIG and --school SLUG")
            plan.binding(school, binding)  # a clear error for a binding the school lacks
        store = open_store(db or (plan.store_url if plan else None))
        print_status(plan, store, school=school, as_json=as_json, wide=wide, binding=binding)


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


def _exit_if_partial(report: RunReport) -> None:
    """A partial run (pupils not read): everything read is applied; exit with its own code."""
    if report.run.state is RunState.PARTIAL:
        err_console.print(
            f"[yellow]run {report.run.id[:8]} ended partial[/]: {report.run.error}",
            highlight=False,
        )
        raise typer.Exit(EXIT_PARTIAL)
