"""SIGKILL at random moments of real ``python -m journalsync pull|push|import`` processes.

Each trial starts the command as a child process against a NetSchool emulator on loopback (the
platform with a write API, whose emulator logs every write), kills it with SIGKILL at a random
moment of its run, then runs the same command to completion in this process (the CLI's own
code, without paying for another interpreter start) and compares the store with a crash-free
run of the same command from the same start: content digest, records lost or doubled, and for
push the emulator's write log — every change applied exactly once.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.soak._changes import many_changes
from bench.soak._compare import Snapshot, compare, snapshot
from connectors.netschool import PLATFORM as NETSCHOOL
from connectors.netschool.emulator import NetSchoolEmulator, create_app
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import serve_in_thread
from core.connector import Page
from core.model import Record
from core.store import Store
from core.sync import reconcile

__all__ = ["KIND_NAMES", "KillResult", "run_kills"]

#: The kills run on NetSchool's emulator (its write log shows what a killed push applied).
PLATFORM = NETSCHOOL.name
SIZE = WorldSize(grades=(5, 6), letters=1, students_per_class=6, weeks=2)
KIND_NAMES = ("pull", "push", "import")
#: Data calls slowed a little, so that a kill lands in the middle of the work more often.
SLOW = 0.01
PUSH_CHANGES = 12
IMPORT_ROWS = 4000


@dataclass
class KillResult:
    kind: str
    trials: int = 0
    killed: int = 0  # processes that died of SIGKILL (the kill points)
    finished_first: int = 0  # finished before the kill came: not a kill point
    recovered: int = 0
    lost: int = 0
    duplicated: int = 0
    differing: int = 0
    applied_twice: int = 0
    write_log_differs: int = 0
    parts: list[str] = field(default_factory=list)


class _Seed:
    """One world (by seed): its template stores and crash-free references, made once."""

    def __init__(self, seed: int, tmp: Path) -> None:
        self.seed = seed
        self.dir = tmp / f"seed-{seed}"
        self.dir.mkdir()
        self.world = World.generate(seed, SIZE)
        info = next(iter(self.world.schools.values()))
        self.school, self.short = info.slug, info.short_name
        self.admin = self.world.accounts(self.school, "admin")[0]
        self.env = f"JS_SOAK_PASSWORD_{seed}"
        os.environ[self.env] = self.admin.password
        self.refs: dict[str, tuple[Snapshot, list[Any] | None]] = {}
        self.lock = threading.Lock()

    def args(self, kind: str, db: Path, base_url: str) -> list[str]:
        url = f"sqlite:///{db}"
        if kind == "import":
            csv = self.dir / "journal.csv"
            return ["import", str(csv), "--school", self.school, "--platform", PLATFORM,
                    "--db", url]  # fmt: skip
        common = [
            "--school", self.school, "--platform", PLATFORM, "--base-url", base_url,
            "--platform-school", self.short, "--login", self.admin.login,
            "--password-env", self.env, "--db", url,
        ]  # fmt: skip
        if kind == "pull":
            return ["pull", *common, "--today", self.world.today.isoformat()]
        return ["push", *common]

    def template(self, kind: str) -> Path:
        """The store a trial of ``kind`` starts from (a copy is made per trial)."""
        path = self.dir / f"{kind}.template.db"
        with self.lock:
            if path.exists():
                return path
            store = _open(path)
            try:
                if kind == "push":
                    with _server(self.seed) as (base, _):
                        _cli(self.args("pull", path, base))
                    store.upsert_local(
                        self.school,
                        many_changes(store, self.school, PLATFORM, PUSH_CHANGES),
                        actor="soak",
                    )
                    reconcile(store, self.school, PLATFORM)
                elif kind == "import":
                    records = self.world.canonical(self.school, PLATFORM)
                    store.commit_page(self.school, PLATFORM, Page("roster", "all", records, {}))
                    _write_csv(self.dir / "journal.csv", records, IMPORT_ROWS)
            finally:
                store.close()
            return path

    def reference(self, kind: str) -> tuple[Snapshot, list[Any] | None]:
        with self.lock:
            if kind in self.refs:
                return self.refs[kind]
        db = self.dir / f"{kind}.reference.db"
        _copy_db(self.template(kind), db)
        with _server(self.seed) as (base, app):
            _cli(self.args(kind, db, base))
            writes = list(app.state.write_log)
        store = _open(db)
        try:
            ref = (snapshot(store), writes if kind == "push" else None)
        finally:
            store.close()
        with self.lock:
            self.refs[kind] = ref
        return ref


@contextlib.contextmanager
def _server(seed: int) -> Any:
    """A fresh world of ``seed`` on loopback (a push changes the world: one per run)."""
    world = World.generate(seed, SIZE)
    app = create_app(world, faults=Faults(slow_seconds=SLOW, path_prefix="/webapi/grade"))
    assert isinstance(app, NetSchoolEmulator)
    with serve_in_thread(app) as server:
        yield server.base_url, app


#: Opening a store runs alembic, whose context is process-global: one in-process command (or
#: store) at a time. The killed children run in parallel; only the reruns take turns.
_IN_PROCESS = threading.RLock()


def _copy_db(src: Path, dst: Path) -> None:
    """Copy a SQLite store with what its write-ahead log holds (a file copy would miss it)."""
    with (
        contextlib.closing(sqlite3.connect(src)) as a,
        contextlib.closing(sqlite3.connect(dst)) as b,
    ):
        a.backup(b)


def _open(db: Path) -> Store:
    with _IN_PROCESS:
        return Store.open(f"sqlite:///{db}")


def _cli(args: list[str]) -> None:
    """Run a journalsync command in this process, as ``python -m journalsync`` would."""
    from journalsync.cli import app

    code: Any = 0
    with _IN_PROCESS:
        try:
            app(args, standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
    if code not in (0, None):
        raise RuntimeError(f"journalsync {args[0]} exited {code} after a crash-free start")


def _write_csv(path: Path, records: list[Record], rows: int) -> None:
    from bench.importer import journal_lines

    lines = journal_lines(records, rows)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))


def _trial(seed: _Seed, kind: str, n: int, delay: float, out: KillResult) -> float:
    """One kill point; returns how long the killed process had run."""
    ref, ref_writes = seed.reference(kind)
    db = seed.dir / f"{kind}.{n}.db"
    _copy_db(seed.template(kind), db)
    with _server(seed.seed) as (base, app):
        cmd = [sys.executable, "-m", "journalsync", *seed.args(kind, db, base)]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        ran = time.monotonic() - t0
        killed = proc.returncode == -signal.SIGKILL
        _cli(seed.args(kind, db, base))  # run to completion after the crash
        writes = list(app.state.write_log)
    store = _open(db)
    try:
        got = compare(snapshot(store), ref)
    finally:
        store.close()
    db.unlink()
    out.trials += 1
    out.killed += killed
    out.finished_first += not killed
    out.recovered += got.equal
    out.lost += got.lost
    out.duplicated += got.duplicated
    out.differing += got.differing
    out.parts += [p for p in got.parts if p not in out.parts]
    if kind == "push":
        out.applied_twice += sum(c - 1 for c in Counter(writes).values() if c > 1)
        out.write_log_differs += sorted(set(writes)) != sorted(set(ref_writes or []))
    return ran


def run_kills(
    tmp: Path,
    *,
    kills: int,
    seeds: int = 4,
    workers: int = 2,
    budget_seconds: float = 600.0,
    rng_seed: int = 2026,
    kinds: tuple[str, ...] = KIND_NAMES,
) -> dict[str, KillResult]:
    """About ``kills`` kill points split over pull, push and import and ``seeds`` worlds."""
    rng = random.Random(rng_seed)
    worlds = [_Seed(s, tmp) for s in range(1, seeds + 1)]
    results = {k: KillResult(k) for k in kinds}
    # How long each command runs uncut (a real process, from start to exit): the kill moments
    # are drawn over that span.
    span: dict[str, float] = {}
    for kind in kinds:
        worlds[0].reference(kind)
        db = worlds[0].dir / f"{kind}.span.db"
        _copy_db(worlds[0].template(kind), db)
        with _server(worlds[0].seed) as (base, _):
            t0 = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "journalsync", *worlds[0].args(kind, db, base)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
            span[kind] = time.monotonic() - t0
    deadline = time.monotonic() + budget_seconds
    # Kills that come after the process finished are no kill points: a quarter more are
    # planned (drawn a little earlier), and the run stops at the count, the end of the plan or
    # the time budget, whichever comes first.
    plan: list[tuple[_Seed, str, int, float]] = []
    for i in range(kills + max(1, kills // 4)):
        kind = kinds[i % len(kinds)]
        late = 1.0 if i < kills else 0.8
        plan.append((worlds[i % seeds], kind, i, rng.uniform(0.3, late) * span[kind]))
    lock = threading.Lock()

    def one(item: tuple[_Seed, str, int, float]) -> None:
        seed, kind, n, delay = item
        with lock:
            if sum(r.killed for r in results.values()) >= kills or time.monotonic() > deadline:
                return
        part = KillResult(kind)
        _trial(seed, kind, n, delay, part)
        with lock:
            r = results[kind]
            for name in (
                "trials",
                "killed",
                "finished_first",
                "recovered",
                "lost",
                "duplicated",
                "differing",
                "applied_twice",
                "write_log_differs",
            ):
                setattr(r, name, getattr(r, name) + getattr(part, name))
            r.parts += [p for p in part.parts if p not in r.parts]

    # The commands print a line each; stdout is swapped once here, not per thread (a swap per
    # thread would race with the other thread's).
    with (
        contextlib.redirect_stdout(io.StringIO()),
        ThreadPoolExecutor(max_workers=workers) as pool,
    ):
        list(pool.map(one, plan))
    return results
