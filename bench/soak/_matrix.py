"""Faults × operations on one platform's emulator, served on loopback; every cell compared
with a fault-free run of the same world and operations.

A cell is (fault class, operation). Each of its rounds arms the fault switches, runs the
operation (which may fail: that is allowed), then runs it once more without faults — the
recovery — and compares the store with the reference store of the same operation without any
fault: the content digest, and per record what was lost, doubled or different. On NetSchool,
whose journal API takes writes, the emulator's write log must also show each pushed change
applied once.

Operations: ``pull`` (a full pull into a fresh store); ``reconcile`` and ``push`` start from a
pulled store with a new mark and a new absence entered locally, then run the school cycle
without / with its push (pull → reconcile → push → verifying pull), so faults land on the
pull, the push and the read-back alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.soak._changes import local_changes
from bench.soak._compare import Snapshot, compare, snapshot
from connectors.conformance.harness import Harness
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import ServerHandle, serve_in_thread
from core.errors import JournalSyncError
from core.http import HttpSettings
from core.store import Store
from core.sync import pull, sync_school

__all__ = ["CLASSES", "OPERATIONS", "SIZE", "CellResult", "run_platform"]

SIZE = WorldSize(grades=(5, 7), letters=1, students_per_class=6, weeks=2)
OPERATIONS = ("pull", "reconcile", "push")
#: Client read timeout, and how long a "timeout" fault keeps the client waiting.
READ_TIMEOUT = 0.25
HANG = 0.3
#: Faulted runs per round at most (each may fail and leave switches armed).
FAULTED_RUNS = 2
#: Share of matching requests a switch fires on: bursts, not every call.
PROBABILITY = 0.3
_COUNTERS = frozenset(
    {
        "server_errors",
        "rate_limited",
        "timeouts",
        "dropped_connections",
        "lost_responses",
        "expire_sessions",
        "html_instead_of_json",
        "unknown_fields",
        "missing_fields",
        "duplicate_records",
        "reorder_records",
    }
)


@dataclass(frozen=True)
class FaultClass:
    name: str
    switches: dict[str, Any]
    #: Rounds per cell are scaled from this (timeouts cost wall time: fewer).
    weight: float = 1.0


CLASSES: tuple[FaultClass, ...] = (
    FaultClass("5xx burst", {"server_errors": 100}),
    FaultClass("429 + Retry-After", {"rate_limited": 100, "retry_after": 1}),
    FaultClass("timeout", {"timeouts": 4, "timeout_seconds": HANG}, weight=0.5),
    FaultClass("dropped connection", {"dropped_connections": 100}),
    FaultClass("answer lost after the write", {"lost_responses": 100}),
    FaultClass("session expiry", {"expire_sessions": 10}),
    FaultClass("HTML instead of JSON", {"html_instead_of_json": 100}),
    FaultClass("unknown fields", {"unknown_fields": 100}),
    FaultClass("missing fields", {"missing_fields": 6}),
    FaultClass("duplicated records", {"duplicate_records": 100}),
    FaultClass("reordered records", {"reorder_records": 100}),
)


@dataclass
class CellResult:
    platform: str
    fault: str
    operation: str
    rounds: int = 0
    injected: int = 0
    failed_runs: int = 0  # faulted runs that ended in an error (then recovered, or not)
    recovered: int = 0  # rounds whose state equals the fault-free run's after recovery
    same_digest: int = 0  # … and whose whole digest (history, quarantine too) does
    lost: int = 0
    duplicated: int = 0
    differing: int = 0
    applied_twice: int = 0
    parts: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Env:
    harness: Harness
    seed: int
    tmp: Path
    n: int = 0
    #: Prepared stores per operation (copied for each round), and the server that pull and
    #: reconcile rounds share (they do not change the platform's world; a push does).
    templates: dict[str, Path] = field(default_factory=dict)
    shared: _Platform | None = None

    def world(self) -> World:
        return World.generate(self.seed, SIZE)

    def store(self, operation: str | None = None) -> Store:
        self.n += 1
        path = self.tmp / f"{self.n}.db"
        if operation is not None and operation in self.templates:
            with (
                contextlib.closing(sqlite3.connect(self.templates[operation])) as src,
                contextlib.closing(sqlite3.connect(path)) as dst,
            ):
                src.backup(dst)  # with what the write-ahead log holds
        return Store.open(f"sqlite:///{path}")

    def platform(self, operation: str) -> _Platform:
        if operation == "push":
            return _Platform(self)
        if self.shared is None:
            self.shared = _Platform(self)
        return self.shared

    async def prepared(self, operation: str) -> Store:
        """A store in the state a round of ``operation`` starts from."""
        if operation != "pull" and operation not in self.templates:
            p = self.platform("pull")
            store = self.store()
            await p.prepare(store, operation)
            store.close()
            self.templates[operation] = self.tmp / f"{self.n}.db"
        return self.store(operation)


def _settings(base: HttpSettings) -> HttpSettings:
    return replace(
        base,
        timeout=READ_TIMEOUT,
        backoff_initial=0.0,
        backoff_max=0.0,
        max_retry_after=0.0,
        deadline=30.0,
        login_deadline=30.0,
    )


class _Platform:
    """A world on a loopback server, and the connector factory for it."""

    def __init__(self, env: _Env) -> None:
        self.env = env
        self.world = env.world()
        self.school = next(iter(self.world.schools.values())).slug
        self.faults = Faults(exclude_prefixes=list(env.harness.login_paths))
        self.app = env.harness.app(self.world, self.faults)
        self.faults.on_expire = lambda: env.harness.expire_sessions(self.app)
        self.server: ServerHandle = serve_in_thread(self.app)
        base = self.server.base_url
        self.target = env.harness.target(self.world, base, self.school, True)
        self.http = _settings(env.harness.http)

    state: dict[str, Any] | None = None

    def _save(self, state: dict[str, Any]) -> None:
        self.state = state

    def close(self) -> None:
        self.server.stop()

    def writes(self) -> list[tuple[Any, ...]] | None:
        state = getattr(self.app, "state", None)
        log = getattr(state, "write_log", None)
        return list(log) if log is not None else None

    async def run(self, store: Store, operation: str, key: str) -> None:
        # The connector's saved state (rotated refresh tokens) goes from run to run, as the
        # store carries it for the journalsync command.
        c = self.env.harness.connect(
            self.world, self.target, state=self.state, save_state=self._save, http=self.http
        )
        async with c:
            if operation == "pull":
                await pull(store, c)
            else:
                report = await sync_school(
                    store, c, run_key=key, operation="sync", do_push=operation == "push"
                )
                if report.error is not None:
                    raise report.error

    def release(self) -> None:
        if self is not self.env.shared:
            self.close()

    async def prepare(self, store: Store, operation: str) -> None:
        """The state a reconcile / push cell starts from: pulled, with local entries."""
        if operation == "pull":
            return
        await self.run(store, "pull", "setup")
        store.upsert_local(
            self.school, local_changes(store, self.school, self.target.platform), actor="soak"
        )


def _applied_twice(log: list[tuple[Any, ...]] | None) -> int:
    if log is None:
        return 0
    return sum(n - 1 for n in Counter(log).values() if n > 1)


async def _reference(env: _Env, operation: str) -> tuple[Snapshot, list[tuple[Any, ...]] | None]:
    p = env.platform(operation)
    store = await env.prepared(operation)
    try:
        await p.run(store, operation, "clean")
        return snapshot(store), p.writes()
    finally:
        store.close()
        p.release()


async def _cell(
    env: _Env, fc: FaultClass, operation: str, rounds: int, ref: tuple[Snapshot, Any]
) -> CellResult:
    out = CellResult(env.harness.platform, fc.name, operation)
    t0 = time.perf_counter()
    ref_snap, ref_writes = ref
    for r in range(rounds):
        p = env.platform(operation)  # a fresh world for each push: a push changes it
        p.faults.injected.clear()
        store = await env.prepared(operation)
        try:
            p.faults.update(
                {**fc.switches, "seed": env.seed * 1000 + r, "probability": PROBABILITY}
            )
            # A run that fails leaves switches armed: run again (bounded) until they are spent.
            for attempt in range(FAULTED_RUNS):
                try:
                    await p.run(store, operation, f"faulted-{r}-{attempt}")
                except JournalSyncError:
                    out.failed_runs += 1
                if not any(getattr(p.faults, k) > 0 for k in fc.switches if k in _COUNTERS):
                    break
            injected = sum(p.faults.injected.values())
            p.faults.update({k: 0 for k in fc.switches if k in _COUNTERS})
            await p.run(store, operation, f"recovery-{r}")
            got = compare(snapshot(store), ref_snap)
            writes = p.writes()
        except JournalSyncError as exc:
            logging.getLogger("soak").warning("recovery failed: %s", exc)
            got, writes = compare(snapshot(store), ref_snap), p.writes()
            got.equal = got.state_equal = False
            injected = sum(p.faults.injected.values())
        finally:
            store.close()
            p.release()
        out.rounds += 1
        out.injected += injected
        out.recovered += got.state_equal
        out.same_digest += got.equal
        out.lost += got.lost
        out.duplicated += got.duplicated
        out.differing += got.differing
        out.applied_twice += _applied_twice(writes)
        if (
            writes is not None
            and ref_writes is not None
            and sorted(set(writes)) != sorted(set(ref_writes))
        ):
            out.parts.append("write log")
        out.parts += [x for x in got.parts if x not in out.parts]
    out.seconds = round(time.perf_counter() - t0, 1)
    return out


def run_platform(
    harness: Harness,
    *,
    rounds: int,
    seed: int = 7,
    classes: tuple[FaultClass, ...] = CLASSES,
    operations: tuple[str, ...] = OPERATIONS,
    progress: Callable[[CellResult], None] | None = None,
) -> list[CellResult]:
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    results: list[CellResult] = []

    async def go(env: _Env) -> None:
        for operation in operations:
            ref = await _reference(env, operation)
            for fc in classes:
                cell = await _cell(env, fc, operation, max(1, round(rounds * fc.weight)), ref)
                results.append(cell)
                if progress:
                    progress(cell)

    with tempfile.TemporaryDirectory(prefix="jssoak-") as tmp:
        env = _Env(harness, seed, Path(tmp))
        try:
            asyncio.run(go(env))
        finally:
            if env.shared is not None:
                env.shared.close()
    return results
