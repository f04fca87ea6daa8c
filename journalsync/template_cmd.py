"""``journalsync template``: the temporary journal to fill while the platform is down (regulation
002 §13.1), read back with ``journalsync import FILE.xlsx``; the carry-over deadline (§13.2) is
shown by ``status`` until the platform holds the entries (:mod:`core.importer._carry`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from core.files import private_dir, write_private
from core.importer import template_bytes, template_input
from journalsync._common import console, open_store, reported_errors

__all__ = ["school_binding", "template"]


def school_binding(
    config: Path | None, school: str, platform: str | None, db: str | None
) -> tuple[str, str | None]:
    """(platform, store URL) of a school: ``--platform``/``--db`` first, else the config's."""
    if config is None:
        if platform is None:
            raise ConfigError("name the platform: --platform P, or -c CONFIG")
        return platform, db
    from journalsync.config import load_config

    plan = load_config(config, check_platforms=False)
    known = any(s.slug == school for s in plan.schools)
    found = plan.school(school) if known else None  # on several platforms: the one in effect
    if found is None and platform is None:
        raise ConfigError(f"no school {school!r} in {config.name}")
    return platform or (found.platform if found else ""), db or plan.store_url


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} must be YYYY-MM-DD, not {text!r}") from None


def template(
    school: Annotated[str, typer.Option("--school", help="The school's slug in journalsync.")],
    class_name: Annotated[str, typer.Option("--class", help="The class: 5А, 11Б.")],
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="The workbook to write (.xlsx).")],
    platform: Annotated[
        str | None, typer.Option("--platform", help="Default: the school's in --config.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Municipality config.")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (default: the config's).")
    ] = None,
) -> None:
    """Write a temporary journal (XLSX, in Russian) for a class and dates, from the last pulled
    roster and timetable; fill it during an outage and `journalsync import` it."""
    with reported_errors():
        if out.suffix.lower() != ".xlsx":
            raise ConfigError(f"--out {out.name}: the temporary journal is an .xlsx file")
        plat, url = school_binding(config, school, platform, db)
        store = open_store(url)
        try:
            t = template_input(
                store, school, plat, class_name, _day(start, "--from"), _day(end, "--to")
            )
        finally:
            store.close()
        if out.parent != Path():
            private_dir(out.parent)
        write_private(out, template_bytes(t))  # owner-only: pupils' names
        days = len({s.lesson.date for s in t.slots})
        console.print(
            f"written {out}: {t.class_name}, {len(t.pupils)} pupils, {days} days, "
            f"{len(t.slots)} lessons",
            highlight=False,
            soft_wrap=True,
        )
