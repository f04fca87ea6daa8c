"""The command line on a school bound to two platforms: ``--binding`` picks one (default: the
binding in effect), ``status`` shows a row per binding within 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from core.errors import ConfigError
from core.store import RunState, Store
from journalsync.report_cmd import report_settings
from journalsync.school_cmd import choose_school

SLUG = "gymnasium-045-moving"


def _config(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    store = Store.open(f"sqlite:///{db}")
    for platform, state in (("netschool", RunState.DONE), ("perm", RunState.DONE)):
        run = store.start_run(f"{SLUG}:{platform}:pull:1", SLUG, platform, "pull")
        store.transition(run.id, RunState.PULLING)
        store.transition(run.id, state, counts={"records": 1234567, "drift": 12})
    store.close()
    path = tmp_path / "m.toml"
    path.write_text(
        '[municipality]\nname = "Район"\ntimezone = "Asia/Barnaul"\n'
        f'[store]\nurl = "sqlite:///{db}"\n\n'
        f'[[schools]]\nslug = "{SLUG}"\nname = "Школа 45"\n'
        'schedules = { pull = "*/30 8-17 * * 1-6" }\n\n'
        '[[schools.bindings]]\nname = "sgo"\nplatform = "netschool"\n'
        'base_url = "http://127.0.0.1:9"\nlogin = "u"\npassword = { env = "NOPE" }\n\n'
        '[[schools.bindings]]\nname = "epos"\nplatform = "perm"\n'
        'base_url = "http://127.0.0.1:10"\nlogin = "u"\ntoken = { env = "NOPE" }\n'
        "effective = 2020-01-13\n",
        encoding="utf-8",
    )
    return path


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "journalsync", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config(tmp_path)


def test_choose_school_by_binding_platform_or_the_one_in_effect(config: Path) -> None:
    assert choose_school(config, SLUG, need_login=False).school.binding == "epos"  # in effect
    assert choose_school(config, SLUG, binding="sgo").school.platform == "netschool"
    assert choose_school(config, SLUG, platform="netschool").school.binding == "sgo"
    with pytest.raises(ConfigError, match=r"no binding 'avers' in .*; its bindings: sgo, epos"):
        choose_school(config, SLUG, binding="avers")
    with pytest.raises(ConfigError, match=r"is on perm .* \(binding epos\)"):
        choose_school(config, SLUG, binding="epos", platform="netschool")
    with pytest.raises(ConfigError, match="bindings are named in the config"):
        choose_school(None, SLUG, binding="sgo", platform="netschool", base_url="http://x")


def test_report_reads_the_binding_in_effect_or_the_one_named(config: Path) -> None:
    from journalsync.config import load_config

    plan = load_config(config)
    assert report_settings(plan, [SLUG], None, None, None, None).platforms == ("perm",)
    named = report_settings(plan, [SLUG], None, None, None, None, bindings=["sgo"])
    assert named.platforms == ("netschool",)
    per_school = report_settings(plan, [SLUG], None, None, None, None, bindings=[f"{SLUG}=sgo"])
    assert per_school.platforms == ("netschool",)


def test_status_shows_a_row_per_binding_in_80_columns(config: Path) -> None:
    result = _cli("status", "-c", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    print(out)
    lines = out.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), max(lines, key=cell_len)
    assert "…" not in out
    rows = [line for line in lines if SLUG in line and "│" in line]
    assert len(rows) == 2
    assert any("netschool (sgo, pull only)" in r for r in rows)
    assert any("perm (epos)" in r for r in rows)
    assert "1 schools (2 platform bindings)" in " ".join(lines)


def test_status_binding_filters_and_an_unknown_binding_is_named(config: Path) -> None:
    one = _cli("status", "-c", str(config), "--school", SLUG, "--binding", "sgo", "--json")
    assert one.returncode == 0, one.stderr
    assert '"binding": "sgo"' in one.stdout and '"binding": "epos"' not in one.stdout
    bad = _cli("status", "-c", str(config), "--school", SLUG, "--binding", "avers")
    assert bad.returncode != 0
    assert "no binding 'avers'" in bad.stderr and "Traceback" not in bad.stderr


def test_drift_on_a_named_binding(config: Path) -> None:
    result = _cli("drift", "-c", str(config), "--school", SLUG, "--binding", "sgo")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
