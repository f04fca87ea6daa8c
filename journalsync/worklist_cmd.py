"""``journalsync worklist``: write the per-teacher worklists (XLSX, PDF, JSON) of a school."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from core.files import private_dir, write_private
from core.store import Store
from core.worklist import (
    build_worklists,
    file_stem,
    issue_worklists,
    to_json,
    write_pdf,
    write_xlsx,
)
from journalsync._common import PLATFORM_HELP, console, open_store, reported_errors, school_timezone

__all__ = ["worklist", "write_worklists"]


def write_worklists(
    store: Store,
    school: str,
    platform: str,
    out: Path,
    timezone: str = "Europe/Moscow",
) -> list[Path]:
    """Build, write and issue the worklists (times in ``timezone``); returns the files written."""
    lists = [replace(wl, timezone=timezone) for wl in build_worklists(store, school, platform)]
    private_dir(out)
    written: list[Path] = []
    used: set[str] = set()
    for wl in lists:
        stem = file_stem(wl)
        n = 1
        while stem in used:  # two teachers with the same short name
            n += 1
            stem = f"{file_stem(wl)}_{n}"
        used.add(stem)
        data = json.dumps(to_json(wl), ensure_ascii=False, indent=2)
        json_path = out / f"{stem}.json"
        write_private(json_path, data + "\n")
        written += [write_xlsx(wl, out / f"{stem}.xlsx"), write_pdf(wl, out / f"{stem}.pdf")]
        written.append(json_path)
    issue_worklists(store, school, platform, lists)
    return written


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
