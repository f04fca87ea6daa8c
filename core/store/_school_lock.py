"""Runs of one school never overlap: one lock per school, held across processes.

Platforms that rotate their tokens (КИАСУО, Пермский ЭПОС) kill a token the moment it is used:
two runs of one school at once — a pull slot and a push slot in the same minute, a ``journalsync
push`` by hand while the scheduler pulls, two Temporal workers — use one token twice, and the
platform revokes the session ("token was used elsewhere or revoked"). So every entry point that
talks to a school's platform or writes its records (pull, push, reconcile, sync, import,
approving a held run) holds this lock for the school while it works.

The lock lives where the store lives, so every process sharing the store sees it:

* PostgreSQL: a session advisory lock ``pg_try_advisory_lock(namespace, hash(school))`` on a
  connection of its own (not the store's pool): it is released when the holder releases it or
  its connection dies with its process. The two-key form never collides with the scheduler's
  one-key lock (``scheduler/_lock.py``).
* SQLite: an OS file lock (``flock``) on ``<store>.locks/school-<hash>.lock`` beside the file,
  created owner-only (0600, in a 0700 folder); the kernel drops it when the process dies.
* In one process (coroutines of the embedded scheduler, a test) a set of held keys: the file
  lock alone would let a process take the lock a second time.

A second run polls for the lock up to ``wait`` seconds, then raises :class:`SchoolBusy`, which
names the school: the scheduler records the slot as skipped with that reason, the CLI exits
with "try again later" (4).
"""

from __future__ import annotations

import asyncio
import threading
import time
from hashlib import blake2b
from pathlib import Path
from types import TracebackType
from typing import Self

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from core.errors import Retriable
from core.store._store import Store

__all__ = ["SCHOOL_LOCK_WAIT", "SchoolBusy", "SchoolLock"]

#: Seconds a second run of a school waits for the first to finish before giving up.
SCHOOL_LOCK_WAIT = 300.0
_POLL = 0.2

#: First key of the two-key advisory lock: "JSsl" (journalsync school lock) as an int4.
_PG_NAMESPACE = 0x4A53736C

_guard = threading.Lock()
_held: set[tuple[str, str]] = set()
_engines: dict[str, Engine] = {}


class SchoolBusy(Retriable):
    """Another run of the school holds its lock."""


def _hash(school: str) -> bytes:
    return blake2b(school.encode(), digest_size=8).digest()


def _pg_key(school: str) -> int:
    return int.from_bytes(_hash(school)[:4], "big", signed=True)


def _url_of(store: Store | str) -> URL:
    return make_url(store) if isinstance(store, str) else store.engine.url


class SchoolLock:
    """``with SchoolLock(store, school):`` or ``async with …`` — one run of ``school`` at a time.

    ``store`` is a :class:`core.store.Store` or its URL. Raises :class:`SchoolBusy` after
    ``wait`` seconds when another run (in any process sharing the store) holds the school.
    """

    def __init__(self, store: Store | str, school: str, *, wait: float = SCHOOL_LOCK_WAIT) -> None:
        self.school = school
        self.wait = wait
        self._url = _url_of(store)
        self._ident = (self._url.render_as_string(hide_password=False), school)
        self._file: FileLock | None = None
        self._conn: Connection | None = None
        self._mine = False

    # --- one attempt ------------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the lock if it is free; ``False`` (nothing held) if it is not."""
        if self._mine:
            raise RuntimeError(f"the lock of school {self.school!r} is already held here")
        with _guard:
            if self._ident in _held:
                return False
            _held.add(self._ident)
        try:
            got = (
                self._try_pg() if self._url.get_backend_name() == "postgresql" else self._try_file()
            )
        except BaseException:
            self._forget()
            raise
        if not got:
            self._forget()
            return False
        self._mine = True
        return True

    def _forget(self) -> None:
        with _guard:
            _held.discard(self._ident)

    def _try_file(self) -> bool:
        database = self._url.database or ""
        if not database or database == ":memory:":
            return True  # a private in-memory store: no other process can share it
        folder = Path(f"{Path(database).resolve()}.locks")
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"school-{_hash(self.school).hex()}.lock"
        lock = FileLock(path, mode=0o600, thread_local=False, is_singleton=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._file = lock
        return True

    def _try_pg(self) -> bool:
        key = self._ident[0]
        with _guard:
            engine = _engines.get(key)
            if engine is None:
                # NullPool: each holder has a connection of its own, closed on release, so the
                # session lock never outlives its run inside a pool.
                engine = _engines[key] = create_engine(
                    self._url, poolclass=NullPool, hide_parameters=True
                )
        conn = engine.connect()
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, :k)"),
                {"ns": _PG_NAMESPACE, "k": _pg_key(self.school)},
            ).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    # --- waiting ----------------------------------------------------------------------------

    def _busy(self) -> SchoolBusy:
        return SchoolBusy(
            f"school {self.school}: another journalsync run of this school is in progress "
            f"(waited {self.wait:g} s for it)",
            hint="runs of one school never overlap (rotating tokens); try again when it ends",
        )

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise self._busy()
            time.sleep(_POLL)

    async def acquire_async(self) -> None:
        """:meth:`acquire` without blocking the event loop (other schools go on meanwhile)."""
        deadline = time.monotonic() + self.wait
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise self._busy()
            await asyncio.sleep(_POLL)

    def release(self) -> None:
        if not self._mine:
            return
        try:
            if self._file is not None:
                self._file.release()
                self._file = None
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:ns, :k)"),
                        {"ns": _PG_NAMESPACE, "k": _pg_key(self.school)},
                    )
                    conn.commit()
                finally:
                    conn.close()  # closing the session releases its locks in any case
        finally:
            self._mine = False
            self._forget()

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

    async def __aenter__(self) -> Self:
        await self.acquire_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
