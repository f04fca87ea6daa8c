"""``journalsync config check`` follows the references: secrets files and keys, environment
variables, the store's dialect, and no password written into the store URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from journalsync.cli import app
from journalsync.config import parse_config

BASE = """\
[municipality]
name = "Test"

[store]
url = "sqlite:///js.db"

[[schools]]
slug = "s-1"
name = "School 1"
platform = "netschool"
base_url = "http://127.0.0.1:9"
login = "admin"
password = { file = "secrets.toml", key = "s-1" }

[[schools.accounts]]
login = "parent-1"
token = { env = "JS_CHECK_PARENT_TOKEN" }
"""


def check(tmp_path: Path, text: str, secrets: str | None = 's-1 = "pw-for-school-1"\n'):
    cfg = tmp_path / "m.toml"
    cfg.write_text(text)
    if secrets is not None:
        (tmp_path / "secrets.toml").write_text(secrets)
    result = CliRunner().invoke(app, ["config", "check", str(cfg)])
    return result.exit_code, " ".join(result.output.split())


def test_resolving_references_are_ok_and_an_unset_variable_is_only_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JS_CHECK_PARENT_TOKEN", raising=False)
    code, out = check(tmp_path, BASE)
    assert code == 0, out
    assert "warning: school s-1, login parent-1: token: environment variable" in out
    assert "JS_CHECK_PARENT_TOKEN is not set in this shell" in out
    assert ": ok" in out
    assert "pw-for-school-1" not in out

    monkeypatch.setenv("JS_CHECK_PARENT_TOKEN", "tok")
    code, out = check(tmp_path, BASE)
    assert code == 0 and "warning" not in out


def test_a_missing_secrets_file_is_an_error(tmp_path: Path) -> None:
    code, out = check(tmp_path, BASE, secrets=None)
    assert code == 2
    assert "school s-1, login admin: password: cannot read the secrets file" in out
    assert "secrets.toml" in out.replace(" ", "")  # the path may be wrapped anywhere
    assert ": ok" not in out


def test_a_missing_key_is_an_error_and_other_keys_do_not_leak(tmp_path: Path) -> None:
    code, out = check(tmp_path, BASE, secrets='s-2 = "pw-of-another-school"\n')
    assert code == 2
    assert "has no key 's-1'" in out
    assert "pw-of-another-school" not in out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u@db/js", "names mysql, which journalsync does not support"),
        ("postgresql://u@db/js", "psycopg2 driver for postgresql"),
        ("not a url", "is not a database URL"),
        ("sqlite://", "in-memory store keeps nothing"),
        (
            "postgresql+psycopg://js:Hunter2Hunter2@db/js",
            "a password in the store URL; leave it out and put it in $PGPASSWORD or ~/.pgpass",
        ),
    ],
)
def test_the_store_url_is_checked_with_its_line(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE.replace("sqlite:///js.db", url), "m.toml")
    assert "m.toml:5: store.url: " in caught.value.message
    assert expected in caught.value.message
    assert "Hunter2Hunter2" not in caught.value.message


def test_a_postgresql_url_without_a_password_is_accepted() -> None:
    plan = parse_config(BASE.replace("sqlite:///js.db", "postgresql+psycopg://js@db/js"))
    assert plan.store_url == "postgresql+psycopg://js@db/js"


def test_http_bounds_are_configured_per_host() -> None:
    text = BASE + (
        '\n[hosts."127.0.0.1:9"]\ndeadline = 5.0\nlogin_deadline = 7.5\ntimeout = 2.0\n'
        "max_response_bytes = 1048576\n"
    )
    plan = parse_config(text)
    settings = plan.http_settings(plan.schools[0])
    assert (settings.deadline, settings.login_deadline, settings.timeout) == (5.0, 7.5, 2.0)
    assert settings.max_response_bytes == 1048576
    default = parse_config(BASE)
    assert default.http_settings(default.schools[0]).max_response_bytes == 64 * 1024 * 1024
