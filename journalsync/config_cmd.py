"""``journalsync config check FILE`` and ``journalsync config example``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from journalsync._common import console, err_console, reported_errors
from journalsync.config import check_secrets, example_text, load_config

__all__ = ["config_app"]

config_app = typer.Typer(help="The municipality's TOML config.", no_args_is_help=True)


@config_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="The TOML config file.")]) -> None:
    """Validate a config file; every problem is listed with its line and key, and every
    password or token reference is looked up (a missing secrets file or key is an error, an
    environment variable unset in this shell a warning)."""
    with reported_errors():
        plan = load_config(file)
        errors, warnings = check_secrets(plan)
        for warning in warnings:
            err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if errors:
            raise ConfigError(
                f"{file}: {len(errors)} credential reference(s) do not resolve:\n  "
                + "\n  ".join(errors),
                hint="fix the path or the key in the secrets file (journalsync credentials set"
                " writes one)",
            )
        platforms: dict[str, int] = {}
        for s in plan.schools:
            platforms[s.platform] = platforms.get(s.platform, 0) + 1
        by_platform = ", ".join(f"{p} {n}" for p, n in sorted(platforms.items()))
        slugs = len({s.slug for s in plan.schools})
        moving = slugs != len(plan.schools)
        bound = f"; {len(plan.schools)} platform bindings" if moving else ""
        console.print(
            f"{file}: ok — {plan.municipality}: {slugs} schools ({by_platform}{bound}), "
            f"{len(plan.blackouts)} blackout windows, store {_store_kind(plan.store_url)}",
            highlight=False,
            soft_wrap=True,
        )


@config_app.command("example")
def example() -> None:
    """Print a commented example config."""
    print(example_text(), end="")


def _store_kind(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]
