"""Engine set-up and the small helpers every part of the store shares.

SQLite is tuned at connect time (WAL, ``synchronous=NORMAL``, foreign keys on, a busy timeout)
and its transactions are begun by us, not by pysqlite: pysqlite's implicit BEGIN would start
write transactions as DEFERRED, and a deferred reader that later writes fails at once with
"database is locked" when another writer got in first. Writes here ``BEGIN IMMEDIATE``, so they
queue on the busy timeout instead; reads stay plain ``BEGIN`` and never block writers (WAL).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from core.files import FILE_MODE, private_dir

UpsertInsert = sqlite.Insert | postgresql.Insert

__all__ = [
    "BulkStatement",
    "StoreBase",
    "chunked",
    "in_chunks",
    "make_engine",
    "migrate",
    "stream",
    "upsert",
    "utcnow",
]

T = TypeVar("T")

#: Rows per executemany / IN (...) batch: well under SQLite's bound-parameter limit.
BATCH = 500

_MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    return datetime.now(UTC)


def stream(rows_per_fetch: int) -> dict[str, Any]:
    """Execution options for a streamed result (a server-side cursor on PostgreSQL)."""
    return {"stream_results": True, "yield_per": rows_per_fetch}


def chunked(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def upsert(table: Table, dialect: str) -> UpsertInsert:
    """``INSERT`` with the dialect's ``ON CONFLICT`` support (SQLite and PostgreSQL alike)."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ValueError(f"unsupported database dialect {dialect!r}; use sqlite or postgresql")


def make_engine(url: str) -> Engine:
    # hide_parameters: SQLAlchemy's logs and errors would otherwise print bound values, which
    # carry pupils' names and marks; logs must never hold personal data.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_private_sqlite(parsed.database)
        engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        _tune_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    raise ValueError(
        f"unsupported database URL {parsed!r}; use sqlite:/// or postgresql+psycopg://"
    )


def _create_private_sqlite(database: str | None) -> None:
    """Create a new SQLite file owner-only (0600) before SQLite does with the umask's mode.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's mode, so they
    are 0600 too. An existing file keeps its mode: the operator may have chosen it.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return  # another process created it meanwhile
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        # 16 KiB pages for a new file (an existing one keeps its size: WAL fixes it). Fewer,
        # larger b-tree pages and WAL frames: a 53,045-record pull took 2.55 CPU-s against 2.65
        # at 4 KiB (six runs each).
        cur.execute("PRAGMA page_size=16384")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 32 MiB of page cache (SQLite's default is 2 MiB): a pull's batch of random-id index
        # inserts stays in memory until its commit instead of spilling page by page.
        cur.execute("PRAGMA cache_size=-32768")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("journalsync_write") else ""
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (alembic, configured in code)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        conn.execution_options(journalsync_write=True)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


class StoreBase:
    """What the job-specific parts of the store (remote, local, drift …) build on."""

    engine: Engine
    dialect: str

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self.engine.connect() as conn:
            conn.execution_options(journalsync_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _upsert(self, table: Table) -> UpsertInsert:
        return upsert(table, self.dialect)


class BulkStatement:
    """A hot bulk statement compiled once per dialect and run as a plain DBAPI executemany.

    SQLAlchemy's per-row parameter processing (type decorators, parameter dictionaries) costs
    more than SQLite's own work for the pull's bulk writes. Rows are given here already in the
    database's form: see :func:`db_datetime` and :func:`db_bool`.
    """

    def __init__(self, statement: Any) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        key = (conn.dialect.name, tuple(rows[0]))  # the columns the rows give
        if key not in self._compiled:
            compiled = self._statement.compile(dialect=conn.dialect, column_keys=list(key[1]))
            order = tuple(compiled.positiontup) if compiled.positional else None
            self._compiled[key] = (str(compiled), order)
        sql, order = self._compiled[key]
        if order and len(order) > 1:
            params: Any = list(map(itemgetter(*order), rows))  # C speed: a tuple per row
        elif order:
            params = [(r[order[0]],) for r in rows]
        else:
            params = list(rows)
        conn.exec_driver_sql(sql, params)


def db_datetime(value: datetime, dialect: str) -> Any:
    """An aware UTC datetime as the store's UTCDateTime column sends it to ``dialect``."""
    if dialect == "sqlite":
        return (
            value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    return value


def db_bool(value: bool, dialect: str) -> Any:
    return int(value) if dialect == "sqlite" else value


def in_chunks(values: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
