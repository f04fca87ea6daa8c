"""A school bound to several platforms (issue 15): ``[[schools.bindings]]``, one per platform,
each with its own address and accounts; errors name file, line and key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from journalsync.config import check_secrets, parse_config

HEAD = """\
[municipality]
name = "Test"
timezone = "Asia/Barnaul"

[schedules]
push = "30 19 * * 1-5"
"""

MOVING = (
    HEAD
    + """
[[schools]]
slug = "s-1"
name = "School 1"

[[schools.bindings]]
platform = "netschool"
base_url = "http://127.0.0.1:9"
platform_school = "S1"
login = "admin"
password = { env = "JS_TEST_S1" }

[[schools.bindings]]
name = "epos"
platform = "perm"
base_url = "http://127.0.0.1:10/"
login = "admin-45"
token = { env = "JS_TEST_S1_EPOS" }
effective = 2026-01-12
timezone = "Asia/Yekaterinburg"
accounts = [{ login = "fam", password = { env = "JS_FAM" } }]
"""
)


def _error(text: str, **kw: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "m.toml", **kw)  # type: ignore[arg-type]
    return info.value.message


def test_bindings_become_one_school_plan_each() -> None:
    plan = parse_config(MOVING, "m.toml", platforms=["netschool", "perm"])
    old, new = plan.bindings("s-1")
    assert (old.binding, old.platform, old.effective) == ("netschool", "netschool", None)
    assert (new.binding, new.platform, new.effective) == ("epos", "perm", date(2026, 1, 12))
    assert new.base_url == "http://127.0.0.1:10" and new.login == "admin-45"
    assert [a.login for a in new.accounts] == ["fam"] and not old.accounts
    assert old.timezone == "Asia/Barnaul" and new.timezone == "Asia/Yekaterinburg"
    assert old.name == new.name == "School 1"  # school-level keys are shared
    assert old.schedule("push") == new.schedule("push")
    assert type(new.options).__name__ == "PermOptions"  # typed per binding
    assert plan.binding("s-1", "epos") is new
    assert plan.on_platform("s-1", "netschool") is old
    # The binding in effect: the latest effective date that has come.
    assert plan.in_effect("s-1", date(2026, 1, 11)) is old
    assert plan.in_effect("s-1", date(2026, 1, 12)) is new
    assert plan.binding("s-1", None) in (old, new)
    _errors, warnings = check_secrets(plan)
    assert any("binding epos" in w for w in warnings)


def test_a_flat_school_is_one_binding_named_after_its_platform() -> None:
    plan = parse_config(
        HEAD
        + """
[[schools]]
slug = "s-2"
name = "School 2"
platform = "netschool"
base_url = "http://127.0.0.1:9"
login = "admin"
password = { env = "X" }
""",
        "m.toml",
    )
    (only,) = plan.bindings("s-2")
    assert only.binding == "netschool" and only.effective is None
    assert plan.binding("s-2", "netschool") is only is plan.school("s-2")


def test_an_unknown_binding_names_the_known_ones() -> None:
    plan = parse_config(MOVING, "m.toml")
    with pytest.raises(ConfigError, match=r"no binding .avers.*netschool, epos"):
        plan.binding("s-1", "avers")
    with pytest.raises(ConfigError, match="no school 'nope'"):
        plan.bindings("nope")


def test_flat_platform_keys_beside_bindings_are_refused_with_their_lines() -> None:
    text = MOVING.replace(
        'name = "School 1"\n', 'name = "School 1"\nlogin = "x"\ntoday = 2026-01-01\n'
    )
    msg = _error(text)
    assert "m.toml:11: schools[0].login: school 's-1' has [[schools.bindings]]" in msg
    assert "m.toml:12: schools[0].today:" in msg


def test_two_bindings_on_one_platform_are_refused() -> None:
    text = MOVING.replace('platform = "perm"', 'platform = "netschool"')
    msg = _error(text)
    assert "m.toml:21: schools[0].bindings[1].platform: school 's-1' has two bindings on" in msg
    assert "snapshots" in msg


def test_same_name_and_same_start_are_refused() -> None:
    text = MOVING.replace('name = "epos"', 'name = "netschool"').replace(
        "effective = 2026-01-12\n", ""
    )
    msg = _error(text)
    assert "m.toml:20: schools[0].bindings[1].name: binding 'netschool' appears twice" in msg
    assert "both take effect from the start" in msg


def test_binding_key_errors_name_the_binding_line() -> None:
    text = MOVING.replace('password = { env = "JS_TEST_S1" }', 'password = "hunter2"')
    msg = _error(text)
    assert "m.toml:17: schools[0].bindings[0].password: a secret in the config file" in msg
    assert "hunter2" not in msg
    text = MOVING.replace('timezone = "Asia/Yekaterinburg"\n', "bogus = 1\n")
    assert "m.toml:26: schools[0].bindings[1].bogus: unknown key" in _error(text)


def test_typed_options_are_checked_per_binding() -> None:
    text = MOVING + "[schools.bindings.options]\nnot_an_option = true\n"
    msg = _error(text, platforms=["netschool", "perm"])
    assert "m.toml:29: schools[0].bindings[1].options.not_an_option: unknown option" in msg
    assert "perm does not take" in msg


def test_a_flat_school_without_its_platform_keys_says_so() -> None:
    msg = _error(HEAD + '\n[[schools]]\nslug = "s-3"\nname = "S"\n')
    assert "m.toml:8: schools[0].platform: required key is missing" in msg
    assert "schools[0].base_url" in msg and "schools[0].login" in msg


def test_a_school_slug_twice_is_still_refused() -> None:
    text = MOVING + '\n[[schools]]\nslug = "s-1"\nname = "again"\nplatform = "avers"\n'
    assert "appears twice" in _error(text)


def test_accounts_import_into_a_binding(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from journalsync.cli import app
    from journalsync.config import load_config

    config = tmp_path / "journalsync.toml"
    config.write_text(
        MOVING.replace('accounts = [{ login = "fam", password = { env = "JS_FAM" } }]\n', ""),
        encoding="utf-8",
    )
    file = tmp_path / "families.csv"
    file.write_text("login,token,pupil,class\npetrov.a,tok-1,Петров Алексей,5А\n", encoding="utf-8")
    out = CliRunner().invoke(
        app,
        [
            "accounts",
            "import",
            str(file),
            "--school",
            "s-1",
            "-c",
            str(config),
            "--binding",
            "epos",
        ],
    )
    assert out.exit_code == 0, out.output
    plan = load_config(config, check_platforms=False)
    epos = plan.binding("s-1", "epos")
    assert [a.login for a in epos.accounts] == ["petrov.a"]
    assert not plan.binding("s-1", "netschool").accounts
    assert epos.accounts[0].token is not None
    assert epos.accounts[0].token.key == "s-1.epos.petrov.a.token"
    assert epos.accounts[0].token.resolve() == "tok-1"
