"""``journalsync package``: write the bulk import package (OneRoster 1.2 CSV zip + per-class
journal XLSX) of a school for the platform operator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer

from core.files import private_dir
from core.package import build_package, issue_package, write_package
from core.store import Store
from journalsync._common import PLATFORM_HELP, console, open_store, reported_errors, school_timezone

__all__ = ["package", "write_school_package"]


def write_school_package(
    store: Store,
    school: str,
    platform: str,
    out: Path,
    scope: Literal["outbox", "journal"] = "outbox",
    timezone: str = "Europe/Moscow",
) -> Path | None:
    """Build and write the package; an outbox package is issued (its items then await the
    operator's load). Returns the zip written, or ``None`` when there is nothing to load."""
    pkg = replace(build_package(store, school, platform, scope=scope), timezone=timezone)
    if not pkg.items:
        return None
    private_dir(out)
    path = write_package(pkg, out / pkg.file_name())
    if scope == "outbox":
        issue_package(store, school, platform, pkg)
    return path


def package(
    school: Annotated[str, typer.Option("--school", help="The school's slug in journalsync.")],
    platform: Annotated[str, typer.Option("--platform", help=PLATFORM_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Directory for the zip.")] = Path("packages"),
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="outbox: the changes waiting for the operator; journal: the whole local "
            "journal (a migration).",
        ),
    ] = "outbox",
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
    """Write <school>-<platform>-<date>.zip: OneRoster 1.2 CSV set, journal XLSX per class."""
    if scope not in ("outbox", "journal"):
        raise typer.BadParameter("use outbox or journal", param_hint="--scope")
    with reported_errors():
        zone = school_timezone(config, school, timezone)
        with open_store(db) as store:
            path = write_school_package(
                store, school, platform, out, "journal" if scope == "journal" else "outbox", zone
            )
        if path is None:
            console.print("nothing to package: no open package items and no journal entries")
            return
        console.print(str(path), soft_wrap=True, highlight=False)
