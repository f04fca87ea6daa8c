"""Engine set-up and the small helpers every part of the store shares.

SQLite is tuned at connect time (WAL, ``synchronous=NORMAL``, foreign keys on, a busy timeout)
and its transactions are begun by us, not by pysqlite: pysqlite's implicit BEGIN would start
write transactions as DEFERRED, and a deferred reader that later writes fails at once with
"database is locked" when another writer got in first. Writes here ``BEGIN IMMEDIATE``, so they
queue on the busy timeout instead; reads stay plain ``BEGIN`` and never block writers (WAL).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from core.errors import ConfigError
from core.files import FILE_MODE, private_dir

UpsertInsert = sqlite.Insert | postgresql.Insert

__all__ = [
    "BulkStatement",
    "StoreBase",
    "check_ours",
    "chunked",
    "in_chunks",
    "is_memory",
    "make_engine",
    "migrate",
    "open_error",
    "parse_store_url",
    "shown_url",
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


_URL_HINT = (
    "use sqlite:///path/to/journalsync.db or postgresql+psycopg://user@host/dbname"
    " (the password in $PGPASSWORD or ~/.pgpass)"
)
_USERINFO = re.compile(r"(//[^/:@]*:)[^/@]*@")


def shown_url(url: str | URL) -> str:
    """A store URL as messages show it: never with its password."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _USERINFO.sub(r"\1***@", url)


def parse_store_url(url: str) -> URL:
    """The store URL parsed; ``ConfigError`` unless it is SQLite or PostgreSQL with psycopg."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"the store URL {shown_url(url)!r} is not a database URL", hint=_URL_HINT
        ) from None
    backend = parsed.get_backend_name()
    try:
        # Loads the dialect: «qlite://» or «sqlite+foo://» raised NoSuchModuleError (fuzzing).
        driver = parsed.get_driver_name()
    except NoSuchModuleError:
        driver = parsed.drivername.partition("+")[2] or "default"
    if backend == "sqlite" and driver == "pysqlite":
        return parsed
    if backend == "postgresql" and driver == "psycopg":
        return parsed
    what = f"the {driver} driver for {backend}" if backend == "postgresql" else backend
    raise ConfigError(
        f"the store URL {shown_url(parsed)!r} names {what}, which journalsync does not support",
        hint=_URL_HINT,
    )


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(url: str) -> Engine:
    # hide_parameters: SQLAlchemy's logs and errors would otherwise print bound values, which
    # carry pupils' names and marks; logs must never hold personal data.
    parsed = parse_store_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(parsed)
        _create_private_sqlite(parsed.database)
        engine = create_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        _tune_sqlite(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def _check_sqlite_path(url: URL) -> None:
    """Clearer words than SQLite's "unable to open database file" for the usual causes."""
    if is_memory(url) or (url.database or "").startswith("file:"):
        return
    path = Path(url.database or "")
    if path.is_dir():
        raise ConfigError(
            f"the store {shown_url(url)!r} is a directory, not a database file",
            hint="give the path of a file, e.g. sqlite:///journalsync.db",
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
    try:
        private_dir(path.parent)  # missing folders are created owner-only
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return  # another process created it meanwhile
    except OSError as exc:
        raise ConfigError(
            f"the store {path} cannot be created: {exc.strerror}",
            hint="check the directory's permissions or point --db elsewhere",
        ) from None
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


def open_error(url: URL, orig: BaseException, *, newer: bool = False) -> ConfigError:
    """The store could not be opened: what the database said (without the password), and
    what to do about the usual causes."""
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if url.password:
        reason = reason.replace(url.password, "***")
    low = reason.lower()
    if "not a database" in low or "malformed" in low:
        hint = (
            "the file is not a SQLite database or it is damaged: point --db at journalsync's"
            " store, or restore it from a backup"
        )
    elif "readonly" in low or "unable to open" in low or "permission" in low:
        hint = "check that this user can write the file and its directory"
    elif newer:
        hint = "the store was migrated by a newer journalsync; use that version"
    elif url.get_backend_name() == "postgresql":
        hint = (
            "check the host, port, database and user in the URL; the password belongs in"
            " $PGPASSWORD or ~/.pgpass, not in the URL"
        )
    else:
        hint = "check the store URL (--db or $JOURNALSYNC_DB)"
    return ConfigError(f"cannot open the store {shown_url(url)!r}: {reason}", hint=hint)


def _revisions() -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def check_ours(url: URL) -> None:
    """``ConfigError`` unless the SQLite database is new, empty or a journalsync store (an
    ``alembic_version`` table holding our revisions): migrating a database that belongs to
    something else would add journalsync's tables to it. Read through a read-only connection
    of its own, so a refused file is left exactly as it was (not even switched to WAL)."""
    database = url.database or ""
    if database.startswith("file:"):
        target, uri = database, True
    else:
        path = Path(database)
        if is_memory(url) or not path.exists() or path.stat().st_size == 0:
            return
        target, uri = f"{path.resolve().as_uri()}?mode=ro", True
    try:
        conn = sqlite3.connect(target, uri=uri)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            tables = {r[0] for r in rows}
            stamped: set[str] = set()
            if "alembic_version" in tables:
                stamped = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise open_error(url, exc) from exc
    if not tables:
        return
    if stamped and stamped <= _revisions():
        return
    found = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
    reason = (
        f"its schema revision {', '.join(sorted(stamped))} is not one this journalsync knows"
        " (a newer version, or another program)"
        if stamped
        else f"it holds other tables ({found})"
    )
    raise ConfigError(
        f"the store {shown_url(url)!r} is not a journalsync store: {reason}",
        hint="point --db at journalsync's store or a new file; to add journalsync's tables to"
        " this database on purpose, run `journalsync --init-store <command> …`",
    )


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
        sql, order = self._compile(conn, tuple(rows[0]))  # the columns the rows give
        if order and len(order) > 1:
            params: Any = list(map(itemgetter(*order), rows))  # C speed: a tuple per row
        elif order:
            params = [(r[order[0]],) for r in rows]
        else:
            params = list(rows)
        conn.exec_driver_sql(sql, params)

    def execute_tuples(
        self, conn: Connection, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Rows given as tuples of ``columns``, in the table's order: on SQLite (positional
        parameters) they are bound as they are, with no dictionary per row."""
        if not rows:
            return
        sql, order = self._compile(conn, columns)
        if order is None:
            conn.exec_driver_sql(sql, [dict(zip(columns, r, strict=True)) for r in rows])
        elif order == columns:
            conn.exec_driver_sql(sql, list(rows))
        else:
            raise ValueError(f"columns {columns} are not in the statement's order {order}")

    def _compile(
        self, conn: Connection, columns: tuple[str, ...]
    ) -> tuple[str, tuple[str, ...] | None]:
        """The statement's SQL for ``columns`` on this connection's dialect, and the order
        of its positional parameters (``None``: named parameters)."""
        key = (conn.dialect.name, columns)
        if key not in self._compiled:
            compiled = self._statement.compile(dialect=conn.dialect, column_keys=list(columns))
            order = tuple(compiled.positiontup) if compiled.positional else None
            self._compiled[key] = (str(compiled), order)
        return self._compiled[key]


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
