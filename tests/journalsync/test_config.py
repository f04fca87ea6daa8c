"""The municipality config: validated once into a plan; errors name file, line and key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from journalsync.cli import app
from journalsync.config import example_text, load_config, parse_config
from scheduler import Limit, cron_trigger

MINIMAL = """\
[municipality]
name = "Test"
timezone = "Asia/Barnaul"

[schedules]
push = "30 19 * * 1-5"

[[schools]]
slug = "s-1"
name = "School 1"
platform = "netschool"
base_url = "http://127.0.0.1:9"
platform_school = "S1"
login = "admin"
password = { env = "JS_TEST_S1" }
"""


def _error(text: str, path: str = "m.toml", **kw) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, path, **kw)
    return info.value.message


def test_example_validates_and_carries_every_section(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text('school-12 = "from-the-file"\n')
    plan = parse_config(
        example_text(), tmp_path / "journalsync.toml", platforms=["netschool", "perm", "ruobr"]
    )
    assert [(s.slug, s.binding) for s in plan.schools] == [
        ("school-1", "netschool"),
        ("school-12", "netschool"),
        ("school-33", "ruobr"),
        ("school-45", "sgo"),  # a school moving from one platform to another
        ("school-45", "epos"),
    ]
    moving = plan.bindings("school-45")
    assert [(b.platform, b.effective) for b in moving] == [
        ("netschool", None),
        ("perm", date(2026, 1, 12)),
    ]
    assert plan.in_effect("school-45", date(2026, 1, 11)).binding == "sgo"
    assert plan.in_effect("school-45", date(2026, 1, 12)).binding == "epos"
    family = plan.school("school-33")  # a family-account school: its accounts and minimum
    assert [a.login for a in family.accounts] == ["petrov.a", "sidorova.e"]
    assert family.accounts[1].class_name == "7Б" and family.min_coverage == 1.0
    s12 = plan.school("school-12")
    assert s12.timezone == "Asia/Novosibirsk"
    assert s12.schedule("push").cron == "0 20 * * mon-fri"  # overridden
    assert s12.schedule("pull").window == "school_hours"  # inherited
    assert s12.thresholds["mark"].deletes == Limit(10)  # school override …
    assert s12.thresholds["mark"].updates == Limit(10, percent=True)  # … merged per field
    assert s12.compliance_profile == "gymnasium"
    assert s12.password.resolve() == "from-the-file"
    assert {b.name for b in plan.blackouts} == {"year-end rollover", "platform switch"}
    assert plan.host_limits("sgo.example.ru").rate_per_second == 10.0
    assert plan.runner.parallel_schools == 16


def test_cli_example_and_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["config", "example"])
    assert out.exit_code == 0 and out.stdout == example_text()
    cfg = tmp_path / "m.toml"
    cfg.write_text(MINIMAL)
    ok = runner.invoke(app, ["config", "check", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert "1 schools (netschool 1)" in ok.stdout
    cfg.write_text(MINIMAL.replace('platform = "netschool"', 'platform = "nosuch"'))
    bad = runner.invoke(app, ["config", "check", str(cfg)])
    assert bad.exit_code == 2
    # Rich wraps long lines where the (temporary, any length) path puts the breaks: compare
    # without whitespace.
    flat = "".join(bad.output.split())
    assert "".join(f"{cfg}:11: schools[0].platform: unknown platform 'nosuch'".split()) in flat


def test_plain_password_is_refused_with_its_line() -> None:
    text = MINIMAL.replace('password = { env = "JS_TEST_S1" }', 'password = "hunter2hunter2"')
    msg = _error(text)
    assert "m.toml:15: schools[0].password: a secret in the config file" in msg
    assert "hunter2hunter2" not in msg


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('push = "30 19 * * 1-5"', 'push = "61 19 * * 1-5"', "m.toml:6: schedules.push: bad cron"),
        (
            'push = "30 19 * * 1-5"',
            'push = { cron = "0 8 * * *", window = "lunch" }',
            "m.toml:6: schedules.push.window",
        ),
        ('timezone = "Asia/Barnaul"', 'timezone = "Mars/Olympus"', "m.toml:3: municipality"),
        ('login = "admin"', 'logn = "admin"', "m.toml:14: schools[0].logn: unknown key"),
        ('slug = "s-1"', 'slug = "S 1"', "m.toml:9: schools[0].slug"),
        ('base_url = "http://127.0.0.1:9"', 'base_url = "127.0.0.1"', "m.toml:12: schools[0].base"),
        (
            'password = { env = "JS_TEST_S1" }',
            'password = { vault = "x" }',
            "m.toml:15: schools[0].password",
        ),
    ],
)
def test_errors_name_line_and_key(old: str, new: str, expected: str) -> None:
    assert old in MINIMAL
    assert expected in _error(MINIMAL.replace(old, new))


def test_thresholds_blackouts_and_duplicates_are_checked() -> None:
    extra = '[thresholds]\nmark = { deletes = "ten percent" }\n\n'
    msg = _error(MINIMAL.replace("[[schools]]", extra + "[[schools]]", 1))
    assert "m.toml:9: thresholds.mark.deletes" in msg
    blackout = (
        '[[blackouts]]\nname = "x"\nstart = 2026-09-01T00:00:00\nend = 2026-08-01T00:00:00\n\n'
    )
    msg = _error(MINIMAL.replace("[[schools]]", blackout + "[[schools]]", 1))
    assert "m.toml:8: blackouts[0]" in msg and "ends before it starts" in msg
    twice = MINIMAL + "\n" + MINIMAL[MINIMAL.index("[[schools]]") :]
    assert "school slug 's-1' appears twice" in _error(twice)
    unknown = blackout.replace("2026-08-01", "2026-10-01") + 'schools = ["s-9"]\n\n'
    msg = _error(MINIMAL.replace("[[schools]]", unknown + "[[schools]]", 1))
    assert "blackouts[0].schools: no school 's-9'" in msg


def test_toml_syntax_error_names_the_line() -> None:
    msg = _error(MINIMAL.replace('name = "School 1"', 'name = "School 1'))
    assert msg.startswith("m.toml: not valid TOML") and "line 10" in msg


def test_secret_references_resolve_without_leaking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(MINIMAL)
    plan = load_config(cfg)
    monkeypatch.delenv("JS_TEST_S1", raising=False)
    with pytest.raises(ConfigError, match="JS_TEST_S1 is empty"):
        plan.schools[0].password.resolve()
    monkeypatch.setenv("JS_TEST_S1", "s3cret-value")
    target = plan.schools[0].target()
    assert target.credentials.password == "s3cret-value"
    assert "s3cret-value" not in repr(target) and "s3cret-value" not in repr(plan)
    cfg.write_text(
        MINIMAL.replace(
            'password = { env = "JS_TEST_S1" }', 'password = { file = "sec.toml", key = "s-1" }'
        )
    )
    (tmp_path / "sec.toml").write_text('other = "x"\n')
    with pytest.raises(ConfigError, match="has no key 's-1'"):
        load_config(cfg).schools[0].password.resolve()


def test_weekday_numbers_mean_what_cron_means() -> None:
    # APScheduler 3 reads 0 as Monday; standard cron (and this config) reads 0 as Sunday.
    assert str(cron_trigger("0 6 * * 0", "UTC").fields[4]) == "sun"
    assert str(cron_trigger("0 6 * * 1-5", "UTC").fields[4]) == "mon,tue,wed,thu,fri"
    assert str(cron_trigger("0 6 * * 7", "UTC").fields[4]) == "sun"
    assert str(cron_trigger("0 6 * * sat,sun", "UTC").fields[4]) == "sat,sun"
