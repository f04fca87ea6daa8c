"""``journalsync doctor``: can each school's platform still be read as journalsync expects?

Per school: log in, read a few pages of each stream (:meth:`core.connector.Connector.sample`),
and say for each stream whether it reads cleanly, reads with *schema drift* (fields the payload
models do not know, miss or find retyped — named, never their values) or fails (why). The drift
met is added to the store's schema-drift history, which is printed after; nothing of the journal
is written. Bounded: a few scopes per stream (a page budget for connectors that cannot pick),
and a time limit per school.

Exit 0 when every school is ok, 1 when a school failed or drifted, 2 on bad usage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.connector import Connector, Sample
from core.errors import ConfigError, JournalSyncError
from core.schema_drift import DriftEvent
from core.store import SchemaDriftRow, Store
from journalsync._common import EXIT_FAILED, console, open_store, reported_errors
from journalsync.school_cmd import choose_school

__all__ = ["SchoolCheck", "StreamCheck", "check_school", "doctor"]

OK, DRIFTED, FAILING = "ok", "drifted", "failing"
#: Streams past the page budget of a connector that cannot pick its scopes: neither ok nor not.
UNSAMPLED = "not sampled"


@dataclass(slots=True)
class StreamCheck:
    stream: str
    status: str
    detail: str = ""
    drift: list[DriftEvent] = field(default_factory=list)


@dataclass(slots=True)
class SchoolCheck:
    school: str
    platform: str
    base_url: str
    auth: str = OK  # "ok", or why not
    auth_ok: bool = False
    streams: list[StreamCheck] = field(default_factory=list)
    history: list[SchemaDriftRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.auth_ok and all(s.status in (OK, UNSAMPLED) for s in self.streams)

    def as_json(self) -> dict[str, Any]:
        return {
            "school": self.school,
            "platform": self.platform,
            "base_url": self.base_url,
            "ok": self.ok,
            "auth": self.auth,
            "streams": [
                {
                    "stream": s.stream,
                    "status": s.status,
                    "detail": s.detail,
                    "fields": [_name(e) for e in s.drift],
                }
                for s in self.streams
            ],
            "history": [_history_json(r) for r in self.history],
        }


def _name(e: DriftEvent | SchemaDriftRow) -> str:
    return f"{e.kind} {e.model}.{e.field}"


def _fields(events: Iterable[DriftEvent]) -> str:
    names = [_name(e) for e in events]
    return "; ".join(names[:6]) + (f"; … {len(names) - 6} more" if len(names) > 6 else "")


def _history_json(r: SchemaDriftRow) -> dict[str, Any]:
    return {
        "model": r.model,
        "field": r.field,
        "kind": r.kind.value,
        "count": r.count,
        "first_seen": r.first_seen.isoformat(),
        "last_seen": r.last_seen.isoformat(),
    }


def _streams(sample: Sample) -> list[StreamCheck]:
    out: list[StreamCheck] = []
    for s in sample.streams.values():
        detail = f"{s.pages} page{'s' if s.pages != 1 else ''}, {s.records} records"
        if s.quarantined:
            detail += f", {s.quarantined} quarantined"
        if s.drift:
            out.append(StreamCheck(s.stream, DRIFTED, f"{_fields(s.drift)} ({detail})", s.drift))
        else:
            out.append(StreamCheck(s.stream, OK, detail))
    if sample.truncated:
        out.append(
            StreamCheck("(later streams)", UNSAMPLED, f"page budget of {sample.pages} pages used")
        )
    if sample.error is not None:
        after = list(sample.streams)[-1] if sample.streams else ""
        where = f" (after {after})" if after else ""
        why = sample.error.message
        if sample.error_drift:
            why += f"; {_fields(sample.error_drift)}"
        out.append(StreamCheck(f"next stream{where}", FAILING, why, sample.error_drift))
    return out


async def check_school(
    connector: Connector, store: Store, *, timeout: float = 300.0
) -> SchoolCheck:
    """Log in, sample one page of each stream, save the drift met; never writes the journal."""
    t = connector.target
    out = SchoolCheck(t.school, t.platform, t.base_url)
    try:
        async with connector, asyncio.timeout(timeout):
            with connector.drift_scope() as log:
                try:
                    await connector.login()
                except JournalSyncError as exc:
                    out.auth = exc.message
                else:
                    out.auth_ok = True
                    login_drift = log.events()
                    if login_drift:
                        out.streams.append(StreamCheck("login", DRIFTED, _fields(login_drift)))
                    out.streams += _streams(await connector.sample())
    except TimeoutError:
        what = "login" if not out.auth_ok else "sample"
        if not out.auth_ok:
            out.auth = f"no answer within {timeout:.0f} s"
        out.streams.append(StreamCheck(what, FAILING, f"timed out after {timeout:.0f} s"))
    except JournalSyncError as exc:  # e.g. logging out failed
        out.streams.append(StreamCheck("session", FAILING, exc.message))
    finally:
        store.record_schema_drift(t.school, connector.schema_drift(clear=True))
    out.history = store.schema_drift(platform=t.platform, school=t.school)
    return out


def print_checks(checks: list[SchoolCheck]) -> None:
    table = Table(title="journalsync doctor")
    for col in ("school", "platform", "check", "status", "detail"):
        table.add_column(col, overflow="fold")
    colour = {OK: "green", DRIFTED: "yellow", FAILING: "red", UNSAMPLED: "dim"}
    for c in checks:
        auth = OK if c.auth_ok else FAILING
        table.add_row(
            c.school, c.platform, "auth", f"[{colour[auth]}]{auth}[/]", "" if c.auth_ok else c.auth
        )
        for s in c.streams:
            table.add_row("", "", s.stream, f"[{colour[s.status]}]{s.status}[/]", s.detail)
    console.print(table)
    history = [(c, r) for c in checks for r in c.history]
    if not history:
        console.print("schema drift history: none recorded")
        return
    hist = Table(title="Schema drift history (names only)")
    for col in ("school", "platform", "field", "kind", "count", "first seen", "last seen"):
        hist.add_column(col, overflow="fold")
    for c, r in history:
        hist.add_row(
            c.school,
            c.platform,
            f"{r.model}.{r.field}",
            r.kind.value,
            str(r.count),
            f"{r.first_seen:%Y-%m-%d %H:%M}",
            f"{r.last_seen:%Y-%m-%d %H:%M}",
        )
    console.print(hist)


def doctor(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Municipality config: every school.")
    ] = None,
    school: Annotated[str | None, typer.Option("--school", help="Only this school.")] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Without a config.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    platform_school: Annotated[str, typer.Option("--platform-school")] = "",
    login: Annotated[str | None, typer.Option("--login")] = None,
    password_env: Annotated[str, typer.Option("--password-env")] = "JOURNALSYNC_PASSWORD",
    db: Annotated[str | None, typer.Option("--db", help="Store URL (drift history).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per school.")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check each school's platform: login, one page of each stream, schema drift."""
    from journalsync.config import load_config
    from scheduler import make_connector

    with reported_errors():
        if config is not None:
            if platform or base_url or login:
                raise ConfigError("give either --config or --platform/--base-url/--login")
            plan = load_config(config)
            store = open_store(db or plan.store_url)
            schools = [s for s in plan.schools if school is None or s.slug == school]
            if not schools:
                raise ConfigError(f"no school {school!r} in {config}")
            connectors = [make_connector(plan, s, store) for s in schools]
        else:
            if not (platform and base_url and login and school):
                raise ConfigError(
                    "give --config, or --school, --platform, --base-url and --login",
                    hint="journalsync doctor -c municipality.toml",
                )
            chosen = choose_school(
                None,
                school,
                db=db,
                platform=platform,
                base_url=base_url,
                platform_school=platform_school or None,
                login=login,
                password_env=password_env,
            )
            store = chosen.open_store()
            connectors = [chosen.connector(store)]

        async def run() -> list[SchoolCheck]:
            # One school after another: doctor is a diagnosis, not a load test.
            return [await check_school(c, store, timeout=timeout) for c in connectors]

        checks = asyncio.run(run())
        if as_json:
            print(json.dumps([c.as_json() for c in checks], ensure_ascii=False))
        else:
            print_checks(checks)
        if not all(c.ok for c in checks):
            raise typer.Exit(EXIT_FAILED)
