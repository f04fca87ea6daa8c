"""``journalsync credentials …``: put a password or a first token into the secrets file.

The configuration never holds secrets; it refers to them (``{ file = "secrets.toml", key = … }``).
This command writes one key of that TOML file (created with mode 0600), reading the secret from
standard input or a hidden prompt — never from the command line, where it would stay in the
shell history (a secret given as an argument is refused with exit 2, without being echoed).
After the first use, tokens a platform rotates live in the store, encrypted.
"""

from __future__ import annotations

import getpass
import json
import stat
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from core.files import write_private
from core.platform import get_platform
from journalsync._common import EXIT_USAGE, console, die, reported_errors

__all__ = ["credentials_app", "how_to_get_token", "write_secret", "write_secrets"]

credentials_app = typer.Typer(
    help="Passwords and first tokens, kept in the secrets file.", no_args_is_help=True
)


def how_to_get_token(platform: str) -> str | None:
    """How to obtain a first token (the platform's descriptor); ``None`` for a platform whose
    login is a password. An unknown platform is a :class:`ConfigError`."""
    return get_platform(platform).how_to or None


def write_secret(path: Path, key: str, value: str) -> None:
    """Set ``key`` in the TOML secrets file, keeping the other keys; owner-only access."""
    write_secrets(path, {key: value})


def write_secrets(path: Path, secrets: Mapping[str, str]) -> None:
    """Set every key of ``secrets`` in the TOML secrets file at once, keeping the other keys;
    owner-only access. Nothing is written when any value is empty or the file is not valid."""
    if not secrets or not all(secrets.values()):
        raise ConfigError("empty secret: nothing written")
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            why = type(exc).__name__
            raise ConfigError(f"cannot read the secrets file {path}: {why}") from None
    data.update(secrets)
    lines = []
    for k, v in data.items():
        if not isinstance(v, str):
            raise ConfigError(f"{path}: key {k!r} is not a string; this file holds secrets only")
        # A JSON string is a valid TOML basic string (same escapes; no "\/" is emitted).
        lines.append(f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v, ensure_ascii=False)}")
    # Through a temporary file created O_EXCL|O_NOFOLLOW with mode 0600 and renamed over the
    # file: a symlink planted at the temporary name (or at the file) is replaced, never followed.
    write_private(path, "\n".join(lines) + "\n")


def file_mode(path: Path) -> str:
    """The permission bits ``path`` actually has, as «0600»."""
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


@credentials_app.command("set")
def set_cmd(
    key: Annotated[str, typer.Argument(help="The key the config refers to.")],
    file: Annotated[Path, typer.Option("--file", help="The secrets file.")] = Path("secrets.toml"),
    platform: Annotated[
        str | None, typer.Option("--platform", help="Print how to obtain a first token.")
    ] = None,
    # Caught so that Click does not echo it back in its «unexpected extra argument» error.
    on_command_line: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
) -> None:
    """Store a password or a first token under KEY; the secret is read from stdin or a prompt."""
    if on_command_line:
        die(
            "a secret is never taken on the command line (it would stay in the shell history "
            "and the process list); nothing written",
            EXIT_USAGE,
            f"pipe it: printf '%s' \"$SECRET\" | journalsync credentials set {key}",
        )
    with reported_errors():
        if platform and sys.stdin.isatty():
            how = how_to_get_token(platform)
            if how:
                console.print(how, markup=False, highlight=False, soft_wrap=True)
        if sys.stdin.isatty():
            value = getpass.getpass(f"secret for {key}: ")
        else:
            value = sys.stdin.readline().strip()
        write_secret(file, key, value)
        console.print(f"stored {key} in {file} (mode {file_mode(file)})")


@credentials_app.command("how")
def how_cmd(platform: Annotated[str, typer.Option("--platform")]) -> None:
    """How to obtain the first token of a platform whose login needs a browser."""
    with reported_errors():
        how = how_to_get_token(platform)
        if how is None:
            raise ConfigError(f"{platform}: logs in with a password; no token to obtain")
        console.print(how, markup=False, highlight=False, soft_wrap=True)
