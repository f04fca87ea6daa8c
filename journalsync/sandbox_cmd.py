"""``journalsync sandbox …``: run a platform emulator on loopback for trials and tests."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated, Any

import typer

from connectors.conformance.harness import harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.journal import JOURNALS, empty_journal
from connectors.sandbox.server import is_loopback, serve
from core.errors import ConfigError
from core.platform import get_platform, platforms
from journalsync._common import console, reported_errors

__all__ = [
    "accounts_line",
    "default_platform",
    "emulator_factory",
    "parse_grades",
    "parse_renames",
    "sandbox_app",
]

sandbox_app = typer.Typer(help="Platform emulators for trials and tests.", no_args_is_help=True)


def emulator_factory(platform: str) -> Any:
    """The emulator's ``create_app(world, faults=None, options=None)`` (the platform's
    descriptor names it)."""
    return get_platform(platform).create_app()


def default_platform() -> str:
    """The first installed platform whose one account sees the whole school."""
    found = platforms()
    for name, p in found.items():
        if not p.per_family:
            return name
    if found:
        return next(iter(found))
    raise ConfigError("no platform is installed (entry point group journalsync.platforms)")


def parse_grades(text: str) -> tuple[int, ...]:
    """«1-11», «5,7,9» or «5-7,9»."""
    grades: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            grades.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ConfigError(f"--grades: not a list of grades: {text!r}") from None
    return tuple(grades)


def parse_renames(items: list[str]) -> dict[str, str]:
    """``["mark=markValue", …]`` → ``{"mark": "markValue", …}`` (the ``rename_fields`` fault)."""
    out: dict[str, str] = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(f"--rename-field: expected OLD=NEW, got {item!r}")
        out[old.strip()] = new.strip()
    return out


def accounts_line(
    world: World, base_url: str, school_slug: str | None = None, platform: str | None = None
) -> dict[str, Any]:
    """One JSON object with the base URL, the school and a login of each role (sandbox only).

    On token platforms (КИАСУО, ЭПОС) an account also gets the token its first login needs, as
    the platform's conformance harness issues it.
    """
    school = world.school(school_slug or next(iter(world.schools)))
    found = harnesses([platform or default_platform()])
    harness = found[0] if found else None
    tokens = (
        {c.login: c.token for c in harness.target(world, base_url, school.slug, True).all_accounts}
        if harness
        else {}
    )

    def first(role: str) -> dict[str, str]:
        acc = world.accounts(school.slug, role)[0]
        out = {"login": acc.login, "password": acc.password}
        if tokens.get(acc.login):
            out["token"] = tokens[acc.login]
        return out

    return {
        "base_url": base_url,
        "school": school.short_name,
        "school_slug": school.slug,
        "admin": first("admin"),
        "teacher": first("teacher"),
        "student": first("student"),
        "parent": first("guardian"),
    }


@sandbox_app.command("serve")
def serve_cmd(
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="an installed platform (default: the first whose one account sees the school)",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8081,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    schools: Annotated[int, typer.Option("--schools")] = 1,
    grades: Annotated[str, typer.Option("--grades", help="e.g. 1-11 or 5,7")] = "1-11",
    letters: Annotated[int, typer.Option("--letters", help="classes per grade")] = 2,
    students: Annotated[int, typer.Option("--students", help="students per class")] = 25,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            help="calendar weeks of lessons from the week of 1 September (with --today fixed)",
        ),
    ] = 4,
    today: Annotated[
        str,
        typer.Option(
            "--today",
            help="the world's today: 'now' (the clock; lessons through the current week), "
            "YYYY-MM-DD, or 'fixed' (the 2026/2027 year and --weeks)",
        ),
    ] = "now",
    accounts: Annotated[
        bool, typer.Option("--accounts", help="Print a JSON line with sandbox logins.")
    ] = False,
    rename_field: Annotated[
        list[str] | None,
        typer.Option(
            "--rename-field",
            help="Schema change fault: rename a JSON field in every response, OLD=NEW "
            "(repeatable), e.g. mark=markValue.",
        ),
    ] = None,
    journal: Annotated[
        str,
        typer.Option(
            "--journal",
            help="full: the generated journal; empty: roster and timetable only, no marks, "
            "attendance, topics or homework (a platform the school has just moved to).",
        ),
    ] = "full",
) -> None:
    """Serve a deterministic world through a platform emulator until interrupted."""
    with reported_errors():
        if not is_loopback(host):
            raise ConfigError(
                f"the sandbox serves on loopback only (127.0.0.0/8, ::1, localhost), not {host!r}"
            )
        size = WorldSize(
            schools=schools,
            grades=parse_grades(grades),
            letters=letters,
            students_per_class=students,
            weeks=weeks,
        )
        if journal not in JOURNALS:
            raise ConfigError(f"--journal must be one of {', '.join(JOURNALS)}, not {journal!r}")
        faults = Faults(rename_fields=parse_renames(rename_field or []))
        world = World.generate(seed, size, today=_today(today))
        platform = platform or default_platform()
        if journal == "empty":
            empty_journal(world)
        app = emulator_factory(platform)(world, faults=faults)
        base_url = f"http://{host}:{port}"
        console.print(base_url, highlight=False, soft_wrap=True)
        if accounts:
            print(
                json.dumps(accounts_line(world, base_url, platform=platform), ensure_ascii=False),
                flush=True,
            )
        asyncio.run(serve(app, host, port))


def _today(value: str) -> date | None:
    if value == "fixed":
        return None
    if value == "now":
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--today must be 'now', 'fixed' or YYYY-MM-DD, not {value!r}") from None
