"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import create_engine, text

from core.http import make_transport


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pg_dsn() -> str | None:
    return os.environ.get("JOURNALSYNC_TEST_PG") or None


@contextmanager
def store_url(backend: str) -> Iterator[str]:
    """A fresh, empty store URL: a temporary SQLite file, or a throwaway PostgreSQL schema."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="jsbench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    dsn = pg_dsn()
    if not dsn:
        raise SystemExit("no PostgreSQL: set JOURNALSYNC_TEST_PG")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(dsn)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in dsn else "?"
    try:
        yield f"{dsn}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def tcp_transport() -> httpx.AsyncBaseTransport:
    """The transport a connector gets by default (:func:`core.http.make_transport`), with room
    for 64 connections."""
    return make_transport(max_connections=64)


def serve_emulator(
    platform: str,
    quick: bool,
    latency: float,
    *,
    journal: str = "full",
    write_log: str | None = None,
) -> tuple[subprocess.Popen[str], int]:
    """The bench school's emulator in its own process (:mod:`bench.emulator`); returns it and
    its port once it listens. ``journal="empty"``: the school as on a platform it has just moved
    to; ``write_log``: where the emulator writes its write log when terminated."""
    cmd = [sys.executable, "-m", "bench.emulator", platform, "quick" if quick else "full"]
    cmd += [str(latency), journal, *([write_log] if write_log else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ})
    if hasattr(os, "sched_setaffinity"):
        # The bench pins the client to one core; the server gets the others (its CPU is not the
        # client's, and on one shared core each would wait for the other).
        mine, every = os.sched_getaffinity(0), set(range(os.cpu_count() or 1))
        os.sched_setaffinity(proc.pid, (every - mine) or every)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("port "):
        proc.kill()
        raise SystemExit(f"the {platform} emulator did not start: {line!r}")
    return proc, int(line.split()[1])


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate a served emulator and wait for it (it writes its write log on the way out)."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()
