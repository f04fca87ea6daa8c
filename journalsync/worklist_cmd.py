"""``journalsync worklist``: write the per-teacher worklists (XLSX, PDF, JSON) of a school."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.worklist import write_worklists
from journalsync._common import PLATFORM_HELP, console, open_store, reported_errors, school_timezone

__all__ = ["worklist", "write_worklists"]


def worklist(
    school: Annotated[str, typer.Option("--school", help="The school's slug in journalsync.")],
    platform: Annotated[str, typer.Option("--platform", help=PLATFORM_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Directory for the files.")] = Path(
        "worklists"
    ),
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Store URL (default $JOURNALSYNC_DB or sqlite:///journalsync.db)."
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Time zone (default: the school's in --config)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Municipality config (the time zone).")
    ] = None,
) -> None:
    """Write one worklist per teacher (XLSX + PDF + JSON) of the entries to make by hand."""
    with reported_errors():
        zone = school_timezone(config, school, timezone)
        with open_store(db) as store:
            files = write_worklists(store, school, platform, out, zone)
        if not files:
            console.print("nothing to enter by hand: no open worklist items")
            return
        for f in files:
            console.print(str(f))
        console.print(f"{len(files) // 3} worklist(s) written to {out}")
