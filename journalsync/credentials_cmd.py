"""``journalsync credentials …``: put a password or a first token into the secrets file.

The configuration never holds secrets; it refers to them (``{ file = "secrets.toml", key = … }``).
This command writes one key of that TOML file (created with mode 0600), reading the secret from
standard input or a hidden prompt — never from the command line, where it would stay in the
shell history. After the first use, tokens a platform rotates live in the store, encrypted.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import tomllib
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from journalsync._common import console, reported_errors

__all__ = ["credentials_app", "how_to_get_token", "write_secret"]

credentials_app = typer.Typer(
    help="Passwords and first tokens, kept in the secrets file.", no_args_is_help=True
)

#: Platforms whose first login needs a person at a browser, and where their how-to lives.
_HOW_TO = {"kiasuo": "connectors.kiasuo"}


def how_to_get_token(platform: str) -> str | None:
    module = _HOW_TO.get(platform)
    if module is None:
        return None
    text: str = import_module(module).HOW_TO_GET_TOKEN
    return text


def write_secret(path: Path, key: str, value: str) -> None:
    """Set ``key`` in the TOML secrets file, keeping the other keys; owner-only access."""
    if not value:
        raise ConfigError("empty secret: nothing written")
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    data[key] = value
    lines = []
    for k, v in data.items():
        if not isinstance(v, str):
            raise ConfigError(f"{path}: key {k!r} is not a string; this file holds secrets only")
        # A JSON string is a valid TOML basic string (same escapes; no "\/" is emitted).
        lines.append(f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v, ensure_ascii=False)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


@credentials_app.command("set")
def set_cmd(
    key: Annotated[str, typer.Argument(help="The key the config refers to.")],
    file: Annotated[Path, typer.Option("--file", help="The secrets file.")] = Path("secrets.toml"),
    platform: Annotated[
        str | None, typer.Option("--platform", help="Print how to obtain a first token.")
    ] = None,
) -> None:
    """Store a password or a first token under KEY; the secret is read from stdin or a prompt."""
    with reported_errors():
        if platform and sys.stdin.isatty():
            how = how_to_get_token(platform)
            if how:
                console.print(how)
        if sys.stdin.isatty():
            value = getpass.getpass(f"secret for {key}: ")
        else:
            value = sys.stdin.readline().strip()
        write_secret(file, key, value)
        console.print(f"stored {key} in {file} (mode 0600)")


@credentials_app.command("how")
def how_cmd(platform: Annotated[str, typer.Option("--platform")]) -> None:
    """How to obtain the first token of a platform whose login needs a browser."""
    with reported_errors():
        how = how_to_get_token(platform)
        if how is None:
            raise ConfigError(f"{platform}: logs in with a password; no token to obtain")
        console.print(how)
