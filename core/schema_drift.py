"""A platform's schema drift as events: unknown, missing and retyped fields of its payloads.

A platform adds, renames and retypes fields between versions without notice. The schema layer
(:class:`core.platform.PayloadReader`) notices each such field and :func:`note`s it here; the
events land in the :class:`DriftLog` of the connector being driven (:func:`collecting`), the
pull engine saves them to the store when the pull ends, and ``journalsync doctor`` shows them.

Readers are module-level objects shared by every connector of a platform (their validators are
bound into the payload models at import time), so an event cannot be handed to "its" connector
directly: the log being filled is chosen by a context variable, which asyncio copies into every
task a connector starts. Events carry names only, never values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["DriftEvent", "DriftKind", "DriftLog", "collecting", "note"]


class DriftKind(StrEnum):
    UNKNOWN = "unknown"  # a field the payload model does not declare (nor lists as KNOWN)
    MISSING = "missing"  # a required field absent
    RETYPED = "retyped"  # a field present with a value of another type or shape


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """One field of one payload model, seen drifted ``count`` times between two instants."""

    platform: str
    model: str
    field: str
    kind: DriftKind
    count: int
    first_seen: datetime
    last_seen: datetime


@dataclass(slots=True)
class _Tally:
    count: int
    first_seen: datetime
    last_seen: datetime


class DriftLog:
    """Drift events gathered while one connector runs, summed per (platform, model, field, kind)."""

    def __init__(self) -> None:
        self._tallies: dict[tuple[str, str, str, DriftKind], _Tally] = {}

    def add(self, platform: str, model: str, field: str, kind: DriftKind, n: int = 1) -> None:
        now = datetime.now(UTC)
        key = (platform, model, field, kind)
        tally = self._tallies.get(key)
        if tally is None:
            self._tallies[key] = _Tally(n, now, now)
        else:
            tally.count += n
            tally.last_seen = now

    def events(self) -> list[DriftEvent]:
        return [
            DriftEvent(p, m, f, k, t.count, t.first_seen, t.last_seen)
            for (p, m, f, k), t in sorted(self._tallies.items(), key=lambda kv: kv[0])
        ]

    def counts(self) -> dict[tuple[str, str, str, DriftKind], int]:
        """The count of each key so far (to tell which events a stretch of work added)."""
        return {k: t.count for k, t in self._tallies.items()}

    def clear(self) -> None:
        self._tallies.clear()

    def __len__(self) -> int:
        return len(self._tallies)


_current: ContextVar[DriftLog | None] = ContextVar("journalsync_schema_drift", default=None)


@contextmanager
def collecting(log: DriftLog) -> Iterator[DriftLog]:
    """Send the drift noted in this context (and the tasks it starts) to ``log``."""
    token = _current.set(log)
    try:
        yield log
    finally:
        try:
            _current.reset(token)
        except ValueError:  # left in another context (an async generator closed elsewhere)
            _current.set(None)


def note(platform: str, model: str, field: str, kind: DriftKind, n: int = 1) -> None:
    """Record drift in the current log; nothing happens outside :func:`collecting`."""
    log = _current.get()
    if log is not None:
        log.add(platform, model, field, kind, n)
