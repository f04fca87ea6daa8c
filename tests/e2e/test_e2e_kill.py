"""Kill ``journalsync pull`` with SIGKILL in the middle of a pull, run it again: nothing lost,
nothing duplicated, the cursor consistent. Real processes, a real socket, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.conformance.compare import differences, project
from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.netschool.harness import HARNESS
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import serve_in_thread
from core.store import Store

PLATFORM = "netschool"
SIZE = WorldSize(grades=(5, 6, 7), letters=2, students_per_class=8, weeks=2)


def _journal_cursor(db: Path) -> dict[str, object] | None:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return None
    try:
        row = con.execute(
            "SELECT value FROM cursors WHERE platform = ? AND stream = 'journal'", (PLATFORM,)
        ).fetchone()
    except sqlite3.OperationalError:
        return None  # not migrated yet
    finally:
        con.close()
    return json.loads(row[0]) if row else None


def _scopes(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT scope, count(*) FROM remote_records WHERE deleted = 0 GROUP BY scope"
        ).fetchall()
    finally:
        con.close()
    return {scope: n for scope, n in rows}


def test_sigkill_mid_pull_then_rerun(tmp_path: Path) -> None:
    world = World.generate(23, SIZE)
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    faults = Faults(slow_seconds=0.15, path_prefix="/webapi/grade/journal")
    db = tmp_path / "kill.db"
    env = {**os.environ, "JS_TEST_PASSWORD": admin.password}
    with serve_in_thread(create_app(world, faults=faults)) as server:
        cmd = [
            sys.executable, "-m", "journalsync", "pull",
            "--school", school.slug, "--platform", PLATFORM, "--base-url", server.base_url,
            "--platform-school", school.short_name, "--login", admin.login,
            "--password-env", "JS_TEST_PASSWORD", "--db", f"sqlite:///{db}",
            "--today", world.today.isoformat(),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            done: list[str] = []
            while time.monotonic() < deadline:
                cursor = _journal_cursor(db)
                done = list(cursor.get("done", [])) if cursor else []  # type: ignore[call-overload]
                if len(done) >= 3:
                    break
                assert proc.poll() is None, "the pull finished before it could be killed"
                time.sleep(0.05)
            assert len(done) >= 3, "the pull never committed three journal pages"
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)  # reap it and close its pipes
        assert proc.returncode == -signal.SIGKILL

        # What the killed process left: every scope the cursor calls done is there, whole; no
        # journal scope beyond them (a page is committed with its cursor or not at all).
        cursor = _journal_cursor(db)
        assert cursor is not None and cursor["complete"] is False
        killed_done = set(cursor["done"])  # type: ignore[call-overload]
        journal_scopes = {s for s in _scopes(db) if s.startswith("journal:")}
        assert journal_scopes <= killed_done

        faults.slow_seconds = 0
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert admin.password not in rerun.stdout + rerun.stderr

    final = _journal_cursor(db)
    assert final is not None and final["complete"] is True
    assert final["pass"] == cursor["pass"], "the rerun resumed the same pass"
    store = Store.open(f"sqlite:///{db}")
    try:
        caps = NetSchoolConnector.capabilities
        actual = project(store.remote_records(school.slug, PLATFORM), caps)
        expected = project(HARNESS.expected(world, school.slug, PLATFORM), caps)
        diff = differences(actual, expected)
        assert not diff, diff
        ids = [r.id for r in store.remote_records(school.slug, PLATFORM)]
        assert len(ids) == len(set(ids))
    finally:
        store.close()


@pytest.mark.parametrize("password", ["wrong-password"])
def test_wrong_password_exits_nonzero_writes_nothing(tmp_path: Path, password: str) -> None:
    world = World.generate(5, WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1))
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    db = tmp_path / "bad.db"
    with serve_in_thread(create_app(world)) as server:
        cmd = [
            sys.executable, "-m", "journalsync", "pull",
            "--school", school.slug, "--platform", PLATFORM, "--base-url", server.base_url,
            "--platform-school", school.short_name, "--login", admin.login,
            "--password-env", "JS_TEST_PASSWORD", "--db", f"sqlite:///{db}",
        ]  # fmt: skip
        out = subprocess.run(
            cmd,
            env={**os.environ, "JS_TEST_PASSWORD": password},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 3, out.stderr
    assert "credentials" in out.stderr.lower() or "password" in out.stderr.lower()
    assert password not in out.stdout + out.stderr
    store = Store.open(f"sqlite:///{db}")
    try:
        assert store.remote_counts(school.slug, PLATFORM) == {}
        assert store.cursors(school.slug, PLATFORM) == {}
    finally:
        store.close()
