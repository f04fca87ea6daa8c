"""``journalsync accounts import|list|forget``: a family-account school's accounts (one family
each).

On КИАСУО, Ruobr, ЭПОС and АВЕРС a school is read through its families' accounts. ``import``
takes them from a CSV or XLSX file (columns ``login`` and ``password`` or ``token``, optional
``pupil`` and ``class``; read as the journal importer reads files: UTF-8 or a Cyrillic code page,
``,`` or ``;``, a workbook's first sheet) and puts each secret into the secrets file (owner-only)
and each account into the school's ``accounts`` list in the config, keeping the rest of the
config as it was written. Every row is checked first: an error names the file, the row and the
column, exits 2, and nothing is written. ``list`` shows each account's state from the pulls
(ok, rejected, expired, never used; when last used) and the school's coverage — never a secret.
``forget`` takes pupils who left the school (by name, or a whole class) off its roster, so pulls
no longer count them as missing; a later pull that shows one puts the pupil back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import tomlkit
import typer
from rich.table import Table as RichTable
from tomlkit.items import AoT, Array, InlineTable
from tomlkit.items import Table as TomlTable

from core.errors import ConfigError
from core.files import private_dir
from core.importer import ImportFileError, TableKind, read_table
from core.logging import redact
from core.store import AccountRow, RosterPupil, Store
from core.sync import school_coverage
from journalsync._common import console, open_store, reported_errors
from journalsync.config import load_config, parse_config
from journalsync.credentials_cmd import write_secrets
from scheduler import SchoolPlan

__all__ = ["ACCOUNTS", "AccountsImport", "accounts_app", "import_accounts", "pupils_to_forget"]

accounts_app = typer.Typer(
    help="A family-account school's accounts (one family each): import them, see their state.",
    no_args_is_help=True,
)

#: The accounts file's columns and the names a person may give them.
ACCOUNTS = TableKind(
    columns=("login", "password", "token", "pupil", "class"),
    required=("login",),
    aliases={
        "login": "login",
        "логин": "login",
        "учетная запись": "login",
        "password": "password",
        "пароль": "password",
        "token": "token",
        "токен": "token",
        "pupil": "pupil",
        "student": "pupil",
        "ученик": "pupil",
        "учащийся": "pupil",
        "обучающийся": "pupil",
        "фио": "pupil",
        "class": "class",
        "класс": "class",
    },
)
_HINT = (
    "save the accounts as CSV (UTF-8 or Windows-1251, ',' or ';' separated) or XLSX with the "
    "header row login,password (or token),pupil,class — one family's account per row"
)
#: Rows of errors shown at most (the count of the rest is given).
_SHOWN = 20

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="The municipality config (edited by import).")
]
SchoolOpt = Annotated[str, typer.Option("--school", help="The school's slug in the config.")]
BindingOpt = Annotated[
    str | None,
    typer.Option(
        "--binding",
        help="A school on several platforms: this binding's accounts (default: the one in use).",
    ),
]


@dataclass(frozen=True, slots=True)
class _Row:
    n: int
    login: str
    password: str
    token: str
    pupil: str
    class_name: str


@dataclass(frozen=True, slots=True)
class AccountsImport:
    rows: int
    added: int
    updated: int
    secrets: Path
    form: str


def _secrets_path(config: Path, school: SchoolPlan, given: Path | None) -> Path:
    """``--secrets``, else the file the school's secrets already live in, else
    ``secrets.toml`` beside the config."""
    if given is not None:
        return given
    refs = [school.password, school.token]
    refs += [r for a in school.accounts for r in (a.password, a.token)]
    found = next((r.file for r in refs if r is not None and r.file is not None), None)
    return found if found is not None else config.parent / "secrets.toml"


def _read_rows(file: Path) -> tuple[list[_Row], str]:
    """Every row, checked; ``ConfigError`` listing each problem by row and column."""
    try:
        table = read_table(file, file.name, ACCOUNTS)
        cells = list(table.rows)
    except ImportFileError as exc:
        raise ConfigError(exc.message, hint=_HINT) from None
    if "password" not in table.columns and "token" not in table.columns:
        raise ConfigError(
            f"{file.name}, row 1: no password or token column (each account needs one)",
            hint=_HINT,
        )
    problems: list[str] = []
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for n, row in cells:
        if not any(v.strip() for v in row.values()):
            continue  # an empty line between blocks
        if "\0extra" in row:
            problems.append(f"{file.name}, row {n}: more cells than the header has columns")
            continue
        login = row.get("login", "").strip()
        password = row.get("password", "").strip()
        token = row.get("token", "").strip()
        if not login:
            problems.append(f"{file.name}, row {n}, login: empty")
            continue
        if not (password or token):
            column = "password" if "password" in table.columns else "token"
            problems.append(f"{file.name}, row {n}, {column}: empty (give a password or a token)")
            continue
        if login in seen:
            problems.append(f"{file.name}, row {n}, login: the same login as row {seen[login]}")
            continue
        seen[login] = n
        rows.append(
            _Row(
                n,
                login,
                password,
                token,
                " ".join(row.get("pupil", "").split()),
                " ".join(row.get("class", "").split()),
            )
        )
    if problems:
        more = f"\n  … and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise ConfigError(
            f"{file.name}: {len(problems)} problem(s), nothing written:\n  "
            + "\n  ".join(problems[:_SHOWN])
            + more,
            hint=_HINT,
        )
    if not rows:
        raise ConfigError(f"{file.name}: no account rows, nothing written", hint=_HINT)
    return rows, table.form


def _key(school: str, login: str, what: str) -> str:
    return f"{school}.{login}.{what}"


def _ref(path_text: str, key: str) -> InlineTable:
    ref = tomlkit.inline_table()
    ref.update({"file": path_text, "key": key})
    return ref


def _school_table(
    doc: tomlkit.TOMLDocument, slug: str, config: Path, binding: str | None = None
) -> TomlTable:
    """The school's table, or — a school on several platforms — its binding's table."""
    schools = doc.get("schools")
    if isinstance(schools, AoT | list):
        for table in schools:
            if isinstance(table, TomlTable | dict) and table.get("slug") == slug:
                bindings = table.get("bindings")
                if binding is None or not isinstance(bindings, AoT | list):
                    return table  # type: ignore[return-value]
                for b in bindings:
                    if (
                        isinstance(b, TomlTable | dict)
                        and (b.get("name") or b.get("platform")) == binding
                    ):
                        return b  # type: ignore[return-value]
    where = f"{slug!r}" + (f", binding {binding!r}" if binding else "")
    raise ConfigError(f"{config}: no [[schools]] table with slug = {where}")


def _account_entry(row: _Row, school: str, path_text: str) -> InlineTable:
    entry = tomlkit.inline_table()
    entry["login"] = row.login
    if row.password:
        entry["password"] = _ref(path_text, _key(school, row.login, "password"))
    if row.token:
        entry["token"] = _ref(path_text, _key(school, row.login, "token"))
    if row.pupil:
        entry["pupil"] = row.pupil
    if row.class_name:
        entry["class"] = row.class_name
    return entry


def _edit_config(
    text: str,
    config: Path,
    slug: str,
    rows: list[_Row],
    path_text: str,
    binding: str | None = None,
) -> tuple[str, int, int]:
    """The config text with the rows as the school's (or its binding's) accounts:
    (text, added, updated)."""
    doc = tomlkit.parse(text)
    table = _school_table(doc, slug, config, binding)
    owner = f"{slug}.{binding}" if binding else slug
    accounts = table.get("accounts")
    if accounts is None:
        accounts = tomlkit.array()
        accounts.multiline(True)
        table["accounts"] = accounts
    if not isinstance(accounts, Array):
        raise ConfigError(
            f"{config}: school {slug!r}: accounts is not an array of inline tables",
            hint="write accounts = [ { login = …, password = { … } }, … ] or remove it",
        )
    index = {
        str(a.get("login")): i for i, a in enumerate(accounts) if isinstance(a, dict | InlineTable)
    }
    added = updated = 0
    for row in rows:
        entry = _account_entry(row, owner, path_text)
        if row.login == table.get("login"):  # the school's own login: its secret is renewed
            for what in ("password", "token"):
                if what in entry:
                    table[what] = entry[what]
                elif what in table:
                    del table[what]
            updated += 1
        elif row.login in index:
            accounts[index[row.login]] = entry
            updated += 1
        else:
            accounts.append(entry)
            added += 1
    return tomlkit.dumps(doc), added, updated


def _replace_text(path: Path, text: str) -> None:
    """Write the config through a temporary file renamed over it, keeping its mode."""
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def import_accounts(
    config: Path, slug: str, file: Path, secrets: Path | None = None, binding: str | None = None
) -> AccountsImport:
    """Read ``file``'s accounts into ``secrets`` and the school's ``accounts`` in ``config``.

    Everything is checked before anything is written: the rows, and the edited config (it must
    validate as a whole). Then the secrets file is written (0600) and the config replaced.
    """
    plan = load_config(config)
    if not any(s.slug == slug for s in plan.schools):
        known = ", ".join(dict.fromkeys(s.slug for s in plan.schools))
        raise ConfigError(f"{config}: no school {slug!r}; the config has: {known}")
    # A school on several platforms: the accounts are the binding's (default: the one in use).
    school = plan.binding(slug, binding)
    several = school.binding if len(plan.bindings(slug)) > 1 else None
    owner = f"{slug}.{several}" if several else slug
    rows, form = _read_rows(file)
    target = _secrets_path(config, school, secrets)
    try:
        path_text = str(target.resolve().relative_to(config.resolve().parent))
    except ValueError:
        path_text = str(target.resolve())
    text = config.read_text(encoding="utf-8")
    new_text, added, updated = _edit_config(text, config, slug, rows, path_text, several)
    parse_config(new_text, config)  # the edited config must validate, or nothing is written
    values: dict[str, str] = {}
    for row in rows:
        if row.password:
            values[_key(owner, row.login, "password")] = row.password
        if row.token:
            values[_key(owner, row.login, "token")] = row.token
    private_dir(target.parent)
    write_secrets(target, values)
    _replace_text(config, new_text)
    return AccountsImport(len(rows), added, updated, target, form)


@accounts_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    school: SchoolOpt,
    config: ConfigOpt = Path("journalsync.toml"),
    secrets: Annotated[
        Path | None,
        typer.Option(
            "--secrets",
            help="The secrets file (default: the one the school uses, else secrets.toml"
            " beside the config).",
        ),
    ] = None,
    binding: BindingOpt = None,
) -> None:
    """Import a school's family accounts from CSV or XLSX (login, password or token, pupil,
    class) into the secrets file and the config."""
    with reported_errors():
        result = import_accounts(config, school, file, secrets, binding)
        console.print(f"{file.name}: {result.rows} accounts ({result.form})", highlight=False)
        console.print(
            f"school {school}: {result.added} accounts added, {result.updated} updated; "
            f"secrets in {result.secrets} (owner only), accounts in {config}",
            highlight=False,
        )


@dataclass(frozen=True, slots=True)
class _Listed:
    login: str
    pupil: str
    class_name: str
    state: str
    pupils: str
    last_used: str
    detail: str


def _when(at: datetime | None, school: SchoolPlan) -> str:
    return f"{at.astimezone(school.tz):%Y-%m-%d %H:%M}" if at is not None else ""


def _listed(school: SchoolPlan, outcomes: list[AccountRow]) -> Iterator[_Listed]:
    by_login = {o.login: o for o in outcomes}
    configured = [(school.login, "", "")] + [
        (a.login, a.pupil, a.class_name) for a in school.accounts
    ]
    for login, pupil, class_name in configured:
        o = by_login.pop(login, None)
        if o is None:
            yield _Listed(login, pupil, class_name, "never used", "", "", "")
            continue
        yield _Listed(
            login,
            pupil,
            class_name,
            o.state,
            str(o.pupils),
            _when(o.last_used, school),
            redact(o.detail) if o.state != "ok" else "",
        )
    for o in by_login.values():  # used once, no longer in the config
        yield _Listed(
            o.login, "", "", "not configured", str(o.pupils), _when(o.last_used, school), ""
        )


def _coverage_lines(store: Store, school: SchoolPlan) -> list[str]:
    runs = [
        r
        for r in store.runs(school=school.slug, limit=50)
        if r.platform == school.platform and "pupils_expected" in r.counts
    ]
    if not runs:
        return ["coverage: no pull yet"]
    last = runs[0]
    coverage = school_coverage(store, school.slug, school.platform, last.id, school.min_coverage)
    lines = [
        f"last pull ({last.state.value}, {_when(last.updated_at, school)}): {coverage.summary()}"
    ]
    for class_name, names in coverage.missing_by_class().items():
        lines.append(f"  not read in {class_name}: {', '.join(names)}")
    return lines


@accounts_app.command("list")
def list_cmd(
    school: SchoolOpt,
    config: ConfigOpt = Path("journalsync.toml"),
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (default: the config's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    binding: BindingOpt = None,
) -> None:
    """Each account of a school: its pupil, state (ok, rejected, expired, never used), pupils
    it showed, when last used. Never a secret."""
    import json

    with reported_errors():
        plan = load_config(config)
        if not any(s.slug == school for s in plan.schools):
            raise ConfigError(f"{config}: no school {school!r}")
        found = plan.binding(school, binding)
        store = open_store(db or plan.store_url)
        listed = list(_listed(found, store.accounts(found.slug, found.platform)))
        if as_json:
            out: list[dict[str, Any]] = [
                {
                    "login": a.login,
                    "pupil": a.pupil,
                    "class": a.class_name,
                    "state": a.state,
                    "pupils": int(a.pupils) if a.pupils else None,
                    "last_used": a.last_used or None,
                    "detail": a.detail,
                }
                for a in listed
            ]
            print(json.dumps(out, ensure_ascii=False))
            return
        table = RichTable(title=f"Accounts — {found.name} ({found.platform})")
        for col in ("login", "pupil", "class", "state", "pupils seen", "last used", "detail"):
            table.add_column(col, overflow="fold")
        colours = {"ok": "green", "rejected": "red", "expired": "red", "never used": "yellow"}
        for a in listed:
            colour = colours.get(a.state)
            state = f"[{colour}]{a.state}[/]" if colour else a.state
            table.add_row(a.login, a.pupil, a.class_name, state, a.pupils, a.last_used, a.detail)
        console.print(table)
        counts: dict[str, int] = {}
        for a in listed:
            counts[a.state] = counts.get(a.state, 0) + 1
        console.print(
            f"{len(listed)} accounts: "
            + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())),
            highlight=False,
        )
        for line in _coverage_lines(store, found):
            console.print(line, highlight=False)


def _words(name: str) -> list[str]:
    return name.casefold().replace("ё", "е").split()


def pupils_to_forget(
    roster: list[RosterPupil], names: list[str], classes: list[str]
) -> list[RosterPupil]:
    """The roster's pupils a person named: each ``names`` entry matches one pupil by full name
    or its first words («Петров Алексей» for «Петров Алексей Ильич»), within ``classes`` when
    given; ``classes`` alone means every pupil of those classes. ``ConfigError`` — nothing
    forgotten — when a name matches no pupil or several, or a class has none."""
    wanted = {" ".join(c.split()).casefold() for c in classes}
    pool = [p for p in roster if not wanted or p.class_name.casefold() in wanted]
    where = f" in {', '.join(classes)}" if classes else ""
    if not names:
        found = {c.casefold() for c in (p.class_name for p in pool)}
        empty = [c for c in classes if " ".join(c.split()).casefold() not in found]
        if empty:
            raise ConfigError(f"no pupil of class {', '.join(empty)} is on the school's roster")
        return pool
    out: dict[str, RosterPupil] = {}
    problems: list[str] = []
    for name in names:
        given = _words(name)
        hits = [p for p in pool if given and _words(p.name)[: len(given)] == given]
        if not hits:
            problems.append(f"no pupil {name!r}{where} on the school's roster")
        elif len(hits) > 1:
            which = "; ".join(f"{p.name} ({p.class_name})" for p in hits)
            problems.append(f"{name!r} names {len(hits)} pupils: {which}")
        else:
            out[hits[0].pupil_id] = hits[0]
    if problems:
        raise ConfigError(
            "nothing forgotten: " + "; ".join(problems),
            hint="give the full name as `accounts list` shows it, and --class to tell two apart",
        )
    return list(out.values())


@accounts_app.command("forget")
def forget_cmd(
    school: SchoolOpt,
    pupil: Annotated[
        list[str] | None,
        typer.Option("--pupil", help="A pupil who left, by name (repeat for more)."),
    ] = None,
    class_name: Annotated[
        list[str] | None,
        typer.Option(
            "--class",
            help="Only pupils of this class; alone: every pupil of it (a class that left).",
        ),
    ] = None,
    config: ConfigOpt = Path("journalsync.toml"),
    db: Annotated[
        str | None, typer.Option("--db", help="Store URL (default: the config's).")
    ] = None,
) -> None:
    """Take pupils who left the school off its roster: pulls no longer count them as missing
    (a later pull whose accounts show one puts the pupil back)."""
    with reported_errors():
        if not pupil and not class_name:
            raise ConfigError("give --pupil NAME (repeatable) or --class CLASS")
        plan = load_config(config)
        found = next((s for s in plan.schools if s.slug == school), None)
        if found is None:
            raise ConfigError(f"{config}: no school {school!r}")
        store = open_store(db or plan.store_url)
        roster = store.family_roster(found.slug, found.platform)
        if not roster:
            raise ConfigError(
                f"school {school!r} has no roster of family-account pupils yet (no pull read one)"
            )
        chosen = pupils_to_forget(roster, pupil or [], class_name or [])
        n = store.forget_pupils(found.slug, found.platform, [p.pupil_id for p in chosen])
        console.print(f"school {school}: {n} pupil(s) taken off the roster", highlight=False)
        for p in chosen:
            console.print(f"  {p.class_name}: {p.name}", highlight=False)
        for line in _coverage_lines(store, found):
            console.print(line, highlight=False)
