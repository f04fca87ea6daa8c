"""One scheduler per store: a PostgreSQL advisory lock, or a lock file beside the SQLite file.

A second ``journalsync serve`` on the same store stops at once with a message naming who holds
the lock, instead of firing every slot a second time.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Self

from filelock import FileLock, Timeout
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from core.errors import ConfigError

__all__ = ["SchedulerLock"]

#: pg_advisory_lock key: the first 8 bytes of sha1("journalsync scheduler"), as a signed bigint.
_PG_KEY = 0x3A1F6C2E5B9D4A07


class SchedulerLock:
    """``with SchedulerLock(store_url):`` — raises :class:`ConfigError` if another holds it."""

    def __init__(self, store_url: str) -> None:
        self.url = store_url
        self._file: FileLock | None = None
        self._owner: Path | None = None
        self._conn: Connection | None = None

    def acquire(self) -> None:
        url = make_url(self.url)
        if url.get_backend_name() == "postgresql":
            self._acquire_pg()
        else:
            self._acquire_file(url.database or "")

    def _acquire_file(self, database: str) -> None:
        if not database or database == ":memory:":
            return  # a private in-memory store: nobody else can share it
        path = Path(database).resolve()
        lock = FileLock(f"{path}.scheduler.lock")
        owner = Path(f"{path}.scheduler.owner")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            held_by = owner.read_text().strip() if owner.exists() else "another process"
            raise ConfigError(
                f"another journalsync scheduler already runs on {path} ({held_by})",
                hint="stop it first; only one scheduler may run per store",
            ) from None
        owner.write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self._file, self._owner = lock, owner

    def _acquire_pg(self) -> None:
        engine = create_engine(self.url, poolclass=None)
        conn = engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_KEY}).scalar()
        conn.commit()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.objid = (:k & 4294967295) AND l.granted LIMIT 1"
                ),
                {"k": _PG_KEY},
            ).first()
            conn.close()
            engine.dispose()
            who = f"backend pid {holder[0]} from {holder[1] or 'local socket'}" if holder else "?"
            raise ConfigError(
                f"another journalsync scheduler already runs on this PostgreSQL store ({who})",
                hint="stop it first; only one scheduler may run per store",
            )
        self._conn = conn

    def release(self) -> None:
        if self._file is not None:
            if self._owner is not None:
                self._owner.unlink(missing_ok=True)
            self._file.release()
            self._file = None
        if self._conn is not None:
            engine = self._conn.engine
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_KEY})
            self._conn.commit()
            self._conn.close()
            engine.dispose()
            self._conn = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
