"""Pull → map → store throughput for a 1,000-student school, in two modes.

*No latency* (``latency=0``): the emulator runs in-process (``httpx.ASGITransport``) and answers
at once, so the figure is CPU-bound: connector, mapping, store **and** the emulator's own
rendering are all in the timed process, a lower bound for the client. Records per CPU-second
(process time) is the one-core figure on a shared machine; the emulator's calls are timed too
(:class:`_Timed`), so the same run also gives records per CPU-second of the client alone, with
no sockets in between.

*Latency* (``latency=0.03``): the emulator runs in its own process (uvicorn on a loopback TCP
port, :mod:`bench.emulator`) and answers each request after ``latency`` seconds
(:attr:`Faults.slow_seconds`), as a regional server 30 ms away would; the client talks TCP with
``TCP_NODELAY`` (Nagle would add 40 ms stalls to small requests). Wall time is the figure; the
client's CPU is measured apart from the server's.

*Client alone* (``remote=True``, ``latency=0``; ``python -m bench one pull:PLATFORM@0 …``): the
emulator in its own process as in the latency mode, answering at once; the client pinned to one
core. Records per *client* CPU-second is the adapter's own figure (connector, HTTP over loopback
TCP, mapping, store), without the emulator's rendering that the in-process figure includes.

Both count the requests (per pupil) and, for the same rows in the same run, time a raw SQLite
upsert of what the pull stored (``executemany`` of ``INSERT … ON CONFLICT DO UPDATE`` into an
empty copy of ``remote_records``, one transaction): the pull's records per CPU-second over that
rate says how far the whole pipeline is from the cost of just writing the rows.

A school of about 1,000 students (grades 1–11 × 4 classes × 23 students) over 4 weeks. The
world is generated before the clock starts. Family-account platforms are read through every
family's account (ЭПОС: a parent's and a child's each), so their figure includes the logins.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import httpx

from bench._util import peak_rss_mib, serve_emulator, tcp_transport
from connectors.conformance.harness import harnesses
from connectors.sandbox import World, WorldSize
from core.http import HttpSettings, host_limits
from core.logging import configure_logging
from core.store import Store
from core.sync import pull

__all__ = ["FULL", "QUICK", "CountingTransport", "raw_upsert_rate", "run", "size_of"]

#: The same school on every platform.
FULL = WorldSize(grades=tuple(range(1, 12)), letters=4, students_per_class=23, weeks=4)
QUICK = WorldSize(grades=(5, 6), letters=1, students_per_class=10, weeks=1)
SEED = 2026


def size_of(quick: bool) -> WorldSize:
    """The school's size; ``JSBENCH_SIZE=grades,letters,students,weeks`` (e.g. ``5-6,2,23,4``)
    overrides it for profiling a smaller school (the emulator's process reads it too)."""
    spec = os.environ.get("JSBENCH_SIZE")
    if spec:
        grades, letters, students, weeks = spec.split(",")
        low, _, high = grades.partition("-")
        return WorldSize(
            grades=tuple(range(int(low), int(high or low) + 1)),
            letters=int(letters),
            students_per_class=int(students),
            weeks=int(weeks),
        )
    return QUICK if quick else FULL


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that pass through to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[request.url.path] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Timed:
    """An ASGI app with the process time of its calls summed: without latency an in-process
    emulator answers each request without yielding to the client's tasks (nothing it awaits
    waits: the body is at hand, sending appends), so the sum is its own CPU and the rest of
    the run's is the client's."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cpu = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        c0 = time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.cpu += time.process_time() - c0


def raw_upsert_rate(db_path: str) -> dict[str, Any]:
    """Rows per CPU-second of a raw SQLite upsert of ``db_path``'s ``remote_records`` rows into
    an empty copy of the table (same schema and indexes), one transaction."""
    src = sqlite3.connect(db_path)
    ddl = [
        sql
        for (sql,) in src.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'remote_records' AND sql IS NOT NULL"
        )
    ]
    cols = [r[1] for r in src.execute("PRAGMA table_info(remote_records)")]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM remote_records").fetchall()
    src.close()
    with tempfile.TemporaryDirectory(prefix="jsbench-raw-") as tmp:
        dst = sqlite3.connect(f"{tmp}/raw.db", isolation_level=None)
        dst.execute("PRAGMA journal_mode=WAL")
        dst.execute("PRAGMA synchronous=NORMAL")
        for sql in ddl:
            dst.execute(sql)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("platform", "id"))
        stmt = (
            f"INSERT INTO remote_records ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT (platform, id) DO UPDATE SET {updates}"
        )
        c0 = time.process_time()
        dst.execute("BEGIN")
        dst.executemany(stmt, rows)
        dst.execute("COMMIT")
        cpu = time.process_time() - c0
        dst.close()
    return {"raw_rows": len(rows), "raw_rows_per_cpu_s": len(rows) / max(cpu, 1e-9)}


def run(
    url: str,
    *,
    platform: str,
    quick: bool,
    latency: float = 0.0,
    concurrency: int | None = None,
    remote: bool | None = None,
) -> dict[str, Any]:
    """One full pull (module doc); ``concurrency``: the ceiling of requests in flight per host
    (default: the default one, :attr:`core.http.HttpSettings.max_concurrency`; the highest the
    adaptive limit reached is ``peak_concurrency``); ``remote``: the
    emulator in its own process (default: when there is latency), so that ``latency=0`` with
    ``remote=True`` measures the client's CPU alone."""
    if remote is None:
        remote = latency > 0
    configure_logging(level="WARNING")
    harness = harnesses([platform])[0]
    size = size_of(quick)
    world = World.generate(SEED, size)
    school = next(iter(world.schools.values()))
    server: subprocess.Popen[str] | None = None
    emulator: _Timed | None = None
    # The harness's settings (no waits between retries), with the default per-host limits.
    http = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)
    if concurrency is not None:
        http = replace(http, max_concurrency=concurrency)
    if remote:
        server, port = serve_emulator(platform, quick, latency)
        base_url = f"http://127.0.0.1:{port}"
        inner: httpx.AsyncBaseTransport = tcp_transport()
    else:
        from journalsync.sandbox_cmd import emulator_factory

        base_url = "http://emulator.bench"
        emulator = _Timed(emulator_factory(platform)(world))
        inner = httpx.ASGITransport(app=emulator)
    transport = CountingTransport(inner)
    target = harness.target(world, base_url, school.slug, True)
    store = Store.open(url)
    connector = harness.connect(world, target, transport=transport, http=http)
    # The world is the bench's, not the client's (a client process holds none): frozen, as
    # tune_gc freezes what a journalsync process holds at start, no collection walks it.
    gc.freeze()

    peak = 0

    async def go() -> int:
        nonlocal peak
        async with connector:
            result = await pull(store, connector)
        peak = max((limit.peak for limit in host_limits().values()), default=0)
        return result.records

    try:
        t0, c0 = time.perf_counter(), time.process_time()
        records = asyncio.run(go())
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
            if server.stdout is not None:
                server.stdout.close()
    # The emulator's own CPU (its process, waited for above): on a shared machine a slow
    # server, not the client, may be what the wall time shows.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = children.ru_utime + children.ru_stime
    store.close()
    students = len(world.accounts(school.slug, "student"))
    requests = sum(transport.requests.values())
    out = {
        "records": records,
        "students": students,
        "accounts": len(target.all_accounts),
        "weeks": size.weeks,
        "latency_ms": round(latency * 1000),
        "remote": remote,
        "concurrency": http.max_concurrency,
        "peak_concurrency": peak,
        "requests": requests,
        "requests_per_pupil": requests / students,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "server_cpu_seconds": round(server_cpu, 2) if server is not None else None,
        "records_per_s": records / seconds,
        "records_per_cpu_s": records / cpu,
        "peak_rss_mib": round(peak_rss_mib()),
    }
    if emulator is not None:
        out["emulator_cpu_seconds"] = round(emulator.cpu, 2)
        out["records_per_client_cpu_s"] = records / max(cpu - emulator.cpu, 1e-9)
    if url.startswith("sqlite:///"):
        raw = raw_upsert_rate(url.removeprefix("sqlite:///"))
        out.update(raw, raw_ratio=out["records_per_cpu_s"] / raw["raw_rows_per_cpu_s"])
    return out
