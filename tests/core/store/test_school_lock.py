"""The per-school lock excludes a second holder of the same school — in another process or in
this one — on SQLite and PostgreSQL, and never a different school."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from core.store import SchoolBusy, SchoolLock, Store

_HOLDER = """
import sys
from core.store import SchoolLock
lock = SchoolLock(sys.argv[1], sys.argv[2], wait=30)
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


def _school() -> str:
    # PostgreSQL advisory locks are per database, not per schema: unique names keep parallel
    # test runs on the shared test database apart.
    return f"school-{uuid.uuid4().hex[:8]}"


def test_a_school_held_by_another_process_is_busy_and_other_schools_are_not(
    store: Store, store_url: str
) -> None:
    held, other = _school(), _school()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, store_url, held],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "held"
        second = SchoolLock(store, held, wait=0.5)
        started = time.monotonic()
        with pytest.raises(SchoolBusy, match=held):
            second.acquire()
        assert time.monotonic() - started >= 0.5, "it waited (bounded) before giving up"
        with SchoolLock(store, other, wait=0):
            pass  # a different school is free
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "released"
        with SchoolLock(store, held, wait=5):
            pass
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_a_dead_holder_releases_the_school(store: Store, store_url: str) -> None:
    school = _school()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, store_url, school],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    assert not SchoolLock(store, school).try_acquire()
    proc.kill()
    proc.communicate(timeout=10)
    with SchoolLock(store, school, wait=10):
        pass


def test_two_holders_in_one_process_exclude_each_other(store: Store) -> None:
    school = _school()

    async def main() -> list[str]:
        events: list[str] = []

        async def run(name: str) -> None:
            async with SchoolLock(store, school, wait=10):
                events.append(f"{name} in")
                await asyncio.sleep(0.3)
                events.append(f"{name} out")

        await asyncio.gather(run("a"), run("b"))
        return events

    events = asyncio.run(main())
    assert events in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


def test_lock_files_are_owner_only(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        with SchoolLock(store, "school-1"):
            folder = tmp_path / "j.db.locks"
            (path,) = folder.iterdir()
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert "school-1" not in path.name  # the name is a hash of the slug
    finally:
        store.close()


def test_a_command_on_a_busy_school_waits_then_exits_4_naming_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    store = Store.open(url)
    try:
        with SchoolLock(store, "school-1"):  # e.g. the scheduler pulling it
            out = subprocess.run(
                [sys.executable, "-m", "journalsync", "drift", "--school", "school-1",
                 "--platform", "netschool", "--db", url],
                capture_output=True, text=True, timeout=60, check=False,
                env={**os.environ, "JOURNALSYNC_LOCK_WAIT": "0.5"},
            )  # fmt: skip
        assert out.returncode == 4, out.stdout + out.stderr
        assert "school school-1: another journalsync run" in " ".join(out.stderr.split())
        assert "Traceback" not in out.stderr
        # Free again, the same command runs.
        again = subprocess.run(
            [sys.executable, "-m", "journalsync", "drift", "--school", "school-1",
             "--platform", "netschool", "--db", url],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "JOURNALSYNC_LOCK_WAIT": "0.5"},
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
    finally:
        store.close()
