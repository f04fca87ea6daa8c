"""``journalsync tokens create|list|revoke``: the web console's access tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.store import Store
from journalsync._common import console, reported_errors
from journalsync.config import load_config
from journalsync.runs_cmd import store_for

__all__ = ["tokens_app"]

tokens_app = typer.Typer(help="Access tokens of the web console.", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="The municipality's TOML config.")
]
DbOpt = Annotated[str | None, typer.Option("--db", help="Store URL (default: the config's).")]


def _audit(store: Store, action: str, target: str, detail: str) -> None:
    """Token changes go to the console's audit log too, as done from the command line."""
    from console import Principal, audit
    from journalsync.runs_cmd import actor

    who = Principal("cli", f"{actor()} (command line)", "admin", frozenset())
    audit(store, who, action, target=target, detail=detail)


def _store(config: Path | None, db: str | None) -> Store:
    plan = load_config(config, check_platforms=False) if config else None
    return store_for(db, plan)


@tokens_app.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin, school or auditor.")],
    name: Annotated[str, typer.Option("--name", help="Who holds it (shown in the audit log).")],
    school: Annotated[
        list[str] | None, typer.Option("--school", help="A school slug (school role; repeat).")
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Make a token and print it once: only its hash is kept."""
    from console import create_token

    with reported_errors():
        store = _store(config, db)
        token, info = create_token(store, role=role, name=name, schools=school or ())
        _audit(store, "token.create", info.id, f"{info.role} {info.name}")
        where = f" for {', '.join(info.schools)}" if info.schools else ""
        console.print(
            f"token {info.id} ({info.role}{where}) for {info.name}; shown once, keep it safe:",
            highlight=False,
        )
        typer.echo(token)


@tokens_app.command("list")
def list_(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """The tokens (never the tokens themselves): id, name, role, schools, state."""
    from console import list_tokens

    with reported_errors():
        table = Table(title="Console tokens")
        for col in ("id", "name", "role", "schools", "created", "state"):
            table.add_column(col)
        for t in list_tokens(_store(config, db)):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
            table.add_row(
                t.id, t.name, t.role, ", ".join(t.schools), f"{t.created_at:%Y-%m-%d %H:%M}", state
            )
        console.print(table)


@tokens_app.command("revoke")
def revoke(
    token: Annotated[str, typer.Argument(help="The token's id (or its name).")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Revoke a token: its sessions end at their next request."""
    from console import revoke_token

    with reported_errors():
        store = _store(config, db)
        info = revoke_token(store, token)
        _audit(store, "token.revoke", info.id, info.name)
        console.print(f"token {info.id} ({info.name}) revoked", highlight=False)
