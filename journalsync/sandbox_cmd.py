"""``journalsync sandbox …``: run a platform emulator on loopback for trials and tests."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

import typer

from connectors.conformance.harness import harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.journal import JOURNALS, empty_journal
from connectors.sandbox.server import is_loopback, serve
from connectors.sandbox.world import PersonInfo
from core.errors import ConfigError
from core.platform import get_platform, platforms
from journalsync._common import console, reported_errors

__all__ = [
    "accounts_line",
    "default_platform",
    "emulator_factory",
    "family_accounts",
    "parse_grades",
    "parse_renames",
    "sandbox_app",
]

#: A harness's account label: «student-123», «guardian-45» (ЭПОС).
_LABEL = re.compile(r"^(?:student|guardian|parent)-(\d+)$")

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


def _marked(world: World) -> set[int]:
    """Students with at least one mark in the world."""
    return {sid for a in world.assignments.values() for sid in a.marks}


def _person_of(world: World, login: str) -> PersonInfo | None:
    """The person an account is for: by login, or by a harness label «student-123»."""
    found = world.account(login)
    if found is None and (m := _LABEL.match(login)):
        found = world.persons.get(int(m.group(1)))
    return found


def _pupils_of(world: World, person: PersonInfo | None) -> list[PersonInfo]:
    if person is None:
        return []
    if person.role == "student":
        return [person]
    return [world.persons[c] for c in person.children if c in world.persons]


def _class_name(world: World, pupil: PersonInfo) -> str:
    cls = world.classes.get(pupil.class_id) if pupil.class_id is not None else None
    return cls.name if cls is not None else ""


def family_accounts(
    world: World, base_url: str, school_slug: str, platform: str
) -> list[dict[str, str]]:
    """The accounts a school pull of ``platform`` uses, as its conformance harness issues them:
    login, then ``password`` or — on token platforms (КИАСУО, ЭПОС) — the ``token`` its first
    login needs, and the pupil and class the account is for (a parent's first child; every
    child in ``children``, as «class name»)."""
    harness = next((h for h in harnesses() if h.platform == platform), None)
    if harness is None:
        return []
    marked = _marked(world)
    out: list[tuple[bool, dict[str, str]]] = []
    people: list[PersonInfo | None] = []
    for cred in harness.target(world, base_url, school_slug, True).all_accounts:
        person = _person_of(world, cred.login)
        people.append(person)
        row = {"login": cred.login}
        secret = cred.token or cred.password
        if cred.password and person is not None and cred.password == person.password:
            row["password"] = cred.password
        else:
            row["token"] = secret
        pupils = _pupils_of(world, person)
        shown = [(_class_name(world, p), p.full_name) for p in pupils]
        if shown:
            row["class"], row["pupil"] = shown[0]
        out.append((not any(p.ext_id in marked for p in pupils), row))
    for (_, row), person in zip(out, people, strict=True):
        kids = _pupils_of(world, person)
        if len(kids) > 1:
            row["children"] = ", ".join(f"{_class_name(world, p)} {p.full_name}" for p in kids)
    # Accounts of pupils with marks first (grade 1 has none by regulation): the first listed
    # is one to try a pull with.
    return [row for _, row in sorted(out, key=lambda item: item[0])]


def accounts_line(
    world: World, base_url: str, school_slug: str | None = None, platform: str | None = None
) -> dict[str, Any]:
    """One JSON object per school: the base URL, the school, a login of each role (its first
    student and parent one with marks) and ``accounts``: every account a school pull of the
    platform uses (:func:`family_accounts`), with tokens on the token platforms. Sandbox only.
    """
    school = world.school(school_slug or next(iter(world.schools)))
    platform = platform or default_platform()
    accounts = family_accounts(world, base_url, school.slug, platform)
    tokens: dict[int, str] = {}
    for a in accounts:
        person = _person_of(world, a["login"])
        if "token" in a and person is not None:
            tokens.setdefault(person.ext_id, a["token"])
    marked = _marked(world)

    def first(role: str) -> dict[str, str]:
        people = world.accounts(school.slug, role)
        # A student with marks (grade 1 has none by regulation), a parent of one.
        if role == "student":
            people = [a for a in people if a.person_id in marked] or people
        elif role == "guardian":
            people = [
                a for a in people if set(world.persons[a.person_id].children) & marked
            ] or people
        acc = people[0]
        out = {"login": acc.login, "password": acc.password}
        if acc.person_id in tokens:
            out["token"] = tokens[acc.person_id]
        return out

    return {
        "base_url": base_url,
        "school": school.short_name,
        "school_slug": school.slug,
        "admin": first("admin"),
        "teacher": first("teacher"),
        "student": first("student"),
        "parent": first("guardian"),
        "accounts": accounts,
        # What a config's `options` for this school needs against the sandbox (its «today»).
        "options": _plain_options(world, base_url, school.slug, platform),
    }


def _plain_options(world: World, base_url: str, school_slug: str, platform: str) -> dict[str, Any]:
    harness = next((h for h in harnesses() if h.platform == platform), None)
    if harness is None:
        return {}
    raw = harness.target(world, base_url, school_slug, True).options
    options = raw if isinstance(raw, Mapping) else raw.model_dump(exclude_unset=True)
    return {
        k: v.isoformat() if isinstance(v, date) else v
        for k, v in options.items()
        if isinstance(v, str | int | float | bool | date)
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
        bool,
        typer.Option(
            "--accounts",
            help="Print a JSON line per school: a login of each role and every account a"
            " school pull uses (tokens on token platforms).",
        ),
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
            for slug in world.schools:
                line = accounts_line(world, base_url, slug, platform=platform)
                print(json.dumps(line, ensure_ascii=False), flush=True)
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
