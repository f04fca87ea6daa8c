"""``journalsync alerts check -c CONFIG``: evaluate the alert conditions now and tell the
config's channels (for cron; ``serve`` checks after each run by itself)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from journalsync._common import EXIT_FAILED, console, err_console, reported_errors
from journalsync.config import load_config
from journalsync.runs_cmd import store_for
from scheduler.alerts import Alerter

__all__ = ["alerts_app"]

alerts_app = typer.Typer(
    help="Alerts: failing, held, drifting schools told to a webhook and by e-mail.",
    no_args_is_help=True,
)


@alerts_app.command("check")
def check(
    config: Annotated[Path, typer.Option("--config", "-c", help="The municipality's TOML config.")],
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (default: the config's).")
    ] = None,
) -> None:
    """Check every alert condition now: a condition that began is told once to each channel,
    one that cleared gets a recovery message once. Exit 1 when a channel could not be told
    (it is told at the next check)."""
    with reported_errors():
        plan = load_config(config)
        if plan.alerts is None:
            raise ConfigError(
                f"{config}: no [alerts] section", hint="`journalsync config example` shows one"
            )
        store = store_for(db, plan)
        report = asyncio.run(Alerter(plan, store).check())
        ev = report.evaluation
        for c in ev.conditions:
            console.print(f"active  {c.kind:<14} {c.school} ({c.platform})", highlight=False)
        for d in report.deliveries:
            what = f"{d.channel}: {d.event} {d.key}"
            if d.error:
                err_console.print(f"[red]not sent[/] {what}: {d.error}", highlight=False)
            else:
                console.print(f"sent    {what}", highlight=False)
        console.print(
            f"{len(ev.conditions)} active conditions, {len(report.sent)} messages sent, "
            f"{len(report.failed)} not sent",
            highlight=False,
        )
        if report.failed:
            raise typer.Exit(EXIT_FAILED)
