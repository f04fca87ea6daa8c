"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import os
import resource
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


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
