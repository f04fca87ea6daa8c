"""`journalsync credentials`: secrets go to the secrets file, never through argv or output."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from core.errors import ConfigError
from journalsync.cli import app
from journalsync.credentials_cmd import write_secret


def _js(*args: str, stdin: str | None = None) -> Result:
    """The command through the CLI's app (stdout and stderr apart, as a script sees them)."""
    return CliRunner().invoke(app, list(args), input=stdin)


def test_write_secret_keeps_other_keys_and_owner_only_access(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    write_secret(path, "school-1", 'pa"ss\\слово')
    write_secret(path, "kiasuo.parent-1", "a1b2c3")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data == {"school-1": 'pa"ss\\слово', "kiasuo.parent-1": "a1b2c3"}
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError):
        write_secret(path, "empty", "")


def test_set_reads_the_secret_from_stdin_and_never_prints_it(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    out = _js(
        "credentials", "set", "kiasuo.parent-1", "--file", str(path), "--platform", "kiasuo",
        stdin="0123456789abcdef0123456789abcdef\n",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert "0123456789abcdef" not in out.stdout + out.stderr
    assert tomllib.loads(path.read_text())["kiasuo.parent-1"] == "0123456789abcdef0123456789abcdef"


def test_how_explains_tokens_and_refuses_password_platforms() -> None:
    how = _js("credentials", "how", "--platform", "kiasuo")
    assert how.exit_code == 0 and "Госуслуги" in how.stdout
    no = _js("credentials", "how", "--platform", "netschool")
    assert no.exit_code == 2


def test_every_token_platform_prints_its_how_to_word_for_word() -> None:
    """The descriptor's text as written: no console markup eaten (``[[schools.accounts]]``),
    no line re-wrapped; ЭПОС explains its mobile token too."""
    from core.platform import platforms

    token_platforms = {name: p.how_to for name, p in platforms().items() if p.how_to}
    assert "perm" in token_platforms
    for name, text in token_platforms.items():
        out = _js("credentials", "how", "--platform", name)
        assert out.exit_code == 0, out.stderr
        assert out.stdout.rstrip("\n") == text.rstrip("\n"), name
    assert "[[schools.accounts]]" in token_platforms["perm"]
    assert "diaryperm://" in token_platforms["perm"]
