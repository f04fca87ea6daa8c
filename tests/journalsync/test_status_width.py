"""``journalsync status`` at 80 columns: whole headers and cells, every line fits; ``--wide``
shows every column; ``runs list --held`` gives the hold's reason; a cycle's summary names every
skipped school and why."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.cells import cell_len

from core.schema_drift import DriftEvent, DriftKind
from core.store import RunState, Store
from journalsync.serve_cmd import print_outcomes
from scheduler import Outcome
from tests.support.cli import run_cli

AT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)
HOLD = "pull held: mark: 120 deletes exceed 10% of 400 (journalsync runs approve to apply)"
ERROR = (
    "the platform answered 503 Service Unavailable after 4 attempts; try again later or raise "
    "hosts.max_attempts"
)
PLATFORMS = ("netschool", "kiasuo", "ruobr", "perm", "avers")


def _config(tmp_path: Path, db: Path) -> Path:
    schools = "".join(
        f'[[schools]]\nslug = "gymnasium-{i:03d}-{p}"\nname = "Школа {i}"\nplatform = "{p}"\n'
        f'base_url = "http://127.0.0.1:9"\nlogin = "u"\npassword = {{ env = "NOPE" }}\n'
        'schedules = { pull = "*/30 8-17 * * 1-6" }\n\n'
        for i, p in enumerate(PLATFORMS)
    )
    path = tmp_path / "m.toml"
    path.write_text(
        '[municipality]\nname = "Широкий район"\ntimezone = "Asia/Barnaul"\n'
        f'[store]\nurl = "sqlite:///{db}"\n\n' + schools,
        encoding="utf-8",
    )
    return path


def _store(db: Path) -> Store:
    store = Store.open(f"sqlite:///{db}")
    for i, p in enumerate(PLATFORMS):
        slug = f"gymnasium-{i:03d}-{p}"
        run = store.start_run(f"{slug}:{p}:pull:1", slug, p, "pull")
        store.transition(run.id, RunState.PULLING)
        if i == 1:
            store.transition(run.id, RunState.HELD, note=HOLD, counts={"records": 12345})
        elif i == 2:
            store.transition(run.id, RunState.FAILED, error=ERROR)
        else:
            store.transition(run.id, RunState.DONE, counts={"records": 1234567, "drift": 4321})
    store.record_schema_drift(
        "gymnasium-000-netschool",
        [
            DriftEvent(
                "netschool", "AssignmentWithVeryLongName", f"field{n}", DriftKind.UNKNOWN, 3, AT, AT
            )
            for n in range(4)
        ],
    )
    return store


def _cli(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """The command on a terminal ``columns`` wide."""
    return run_cli(*args, env={"COLUMNS": str(columns), "LINES": "50"}, columns=columns)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    _store(db).close()
    return _config(tmp_path, db)


def test_status_fits_80_columns_without_cutting_anything(config: Path) -> None:
    result = _cli("status", "-c", str(config))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    print(out)
    lines = out.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), max(lines, key=cell_len)
    assert "…" not in out
    header = next(line for line in lines if "school" in line)
    assert "state" in header and "platform" in header
    for p in PLATFORMS:
        assert f"gymnasium-00{PLATFORMS.index(p)}-{p}" in out  # whole, on one line
    # The long texts follow the table, whole (wrapped, not cut).
    flat = " ".join(line.strip() for line in lines)
    assert HOLD in flat and ERROR in flat
    assert "not shown at 80 columns:" in flat and "--wide" in flat


def test_status_wide_shows_every_column(config: Path) -> None:
    result = _cli("status", "-c", str(config), "--wide")
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "school" in line)
    for col in ("records", "quarantined", "stale", "schema", "next slot", "error", "holds"):
        assert col in header
    assert "not shown" not in result.stdout and "…" not in result.stdout
    assert "unknown AssignmentWithVeryLongName.field0" in result.stdout


def test_runs_list_held_shows_the_reason(config: Path) -> None:
    result = _cli("runs", "list", "--held", "-c", str(config))
    assert result.returncode == 0, result.stderr
    flat = " ".join(line.strip(" │") for line in result.stdout.splitlines())
    assert "gymnasium-001-kiasuo" in flat
    assert all(cell_len(line) <= 80 for line in result.stdout.splitlines())
    assert "…" not in result.stdout
    assert HOLD in flat  # whole: under the table at 80 columns, in a column when wide
    wide = _cli("runs", "list", "--held", "-c", str(config), columns=200)
    assert HOLD in wide.stdout and "reason" in wide.stdout
    every = _cli("runs", "list", "-c", str(config))
    assert all(cell_len(line) <= 80 for line in every.stdout.splitlines())
    assert "…" not in every.stdout and "gymnasium-000-netschool" in every.stdout
    assert ERROR in " ".join(line.strip() for line in every.stdout.splitlines())


def test_a_cycle_summary_names_every_skipped_school_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = [Outcome(f"school-{i}", "netschool", "push", f"k{i}", "done") for i in range(9)] + [
        Outcome(
            "school-9",
            "netschool",
            "push",
            "k9",
            "skipped",
            reason="blackout window 'year-end rollover': rollover",
        ),
        Outcome(
            "school-10",
            "kiasuo",
            "push",
            "k10",
            "skipped",
            reason="school-10 is busy with another run",
        ),
    ]
    print_outcomes(outcomes, 1.5)
    out = capsys.readouterr().out
    assert "11 schools in 1.5 s: 9 done, 2 skipped" in out
    assert "skipped school-9 (netschool): blackout window 'year-end rollover': rollover" in out
    assert "skipped school-10 (kiasuo): school-10 is busy with another run" in out
