"""A digest of what the store holds, to tell whether two stores synced to the same contents.

Two deployments that ran the same slots against the same platforms (the embedded runner on
SQLite, Temporal workers on PostgreSQL) must end with the same journal: the same remote snapshot,
local journal, outbox, drift findings, quarantine and change history. They will not have the same
run bookkeeping — run ids, run keys, wall-clock timestamps, sequence numbers, attempt counts,
cursors, encrypted connector state — so none of that is part of a part's rows.

Each part is a multiset of canonical rows. A row is hashed with SHA-256 and the part's hashes are
summed modulo 2**256: order-independent (no ``ORDER BY``, whose text collation differs between
the backends) and in constant memory, so a million-record store is digested while streamed. It
detects accidental differences; it is not meant to withstand a forger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from hashlib import blake2b, sha256
from typing import Any

import orjson
from sqlalchemy import Select, select

from core.store._base import StoreBase, stream
from core.store._schema import (
    drift_findings,
    local_changes,
    local_records,
    outbox,
    quarantine,
    remote_changes,
    remote_records,
)
from core.store._types import ContentDigest

__all__ = ["CONTENT_PARTS", "DigestStore"]

_ROWS_PER_FETCH = 2000
_MOD = 2**256


def _json_hash(value: Any) -> str | None:
    """A short hash of a JSON value or JSON text, independent of key order and spacing."""
    if value is None:
        return None
    if isinstance(value, str | bytes):
        value = orjson.loads(value)
    return blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def _provenance(text: str | None) -> str | None:
    """The platform's ids and times of a record, without when this sync fetched it."""
    if text is None:
        return None
    value = orjson.loads(text)
    value.pop("fetched_at", None)
    return _json_hash(value)


_r, _l, _o, _f = remote_records.c, local_records.c, outbox.c, drift_findings.c
_q, _rc, _lc = quarantine.c, remote_changes.c, local_changes.c

#: Per part: its query, and which columns (by position) are JSON to reduce to a hash.
_PARTS: dict[str, tuple[Select[Any], dict[int, Callable[[Any], str | None]]]] = {
    # content_hash stands for the record's data (it is the hash of it); scope is which pull
    # window saw the record, and first/last_seen and run_id are when and by which run.
    "remote": (
        select(
            _r.platform,
            _r.school,
            _r.entity,
            _r.id,
            _r.parent_id,
            _r.content_hash,
            _r.deleted,
            _r.provenance,
            _r.stale,
        ),
        {7: _provenance},
    ),
    "local": (
        select(_l.school, _l.entity, _l.id, _l.parent_id, _l.content_hash, _l.deleted),
        {},
    ),
    # The key is a hash of the change and of the platform state it applies to; attempts and
    # last_error say how often and why a send failed on the way, not what was sent.
    "outbox": (
        select(
            _o.key, _o.school, _o.platform, _o.entity, _o.record_id, _o.op, _o.channel, _o.status
        ),
        {},
    ),
    "findings": (
        select(_f.school, _f.platform, _f.entity, _f.record_id, _f.kind, _f.status, _f.fields),
        {6: _json_hash},
    ),
    # A record refused again by the next pull is saved again: the distinct rows are the contents.
    "quarantine": (
        select(_q.school, _q.platform, _q.stream, _q.entity, _q.record, _q.field, _q.reason)
        .add_columns(_q.status, _q.payload)
        .distinct(),
        {8: _json_hash},
    ),
    "remote_history": (
        select(
            _rc.platform, _rc.school, _rc.entity, _rc.record_id, _rc.kind, _rc.before, _rc.after
        ),
        {5: _json_hash, 6: _json_hash},
    ),
    "local_history": (
        select(_lc.school, _lc.entity, _lc.record_id, _lc.actor, _lc.reason, _lc.before, _lc.after),
        {5: _json_hash, 6: _json_hash},
    ),
}

#: The parts of a content digest, in the order they are combined.
CONTENT_PARTS = tuple(_PARTS)


class DigestStore(StoreBase):
    def content_rows(self, part: str) -> Iterator[tuple[Any, ...]]:
        """The canonical rows of one part (see :data:`CONTENT_PARTS`), in no particular order.

        Record data and other JSON come as short hashes, so the rows are ids, codes and hashes:
        two stores' rows can be compared as sets to see where they differ.
        """
        try:
            stmt, json_cols = _PARTS[part]
        except KeyError:
            raise ValueError(
                f"unknown content part {part!r}; use one of {', '.join(CONTENT_PARTS)}"
            ) from None
        with self._read() as conn:
            for row in conn.execution_options(**stream(_ROWS_PER_FETCH)).execute(stmt):
                values = list(row)
                for i, reduce in json_cols.items():
                    values[i] = reduce(values[i])
                yield tuple(values)

    def content_digest(self) -> ContentDigest:
        """A digest of the synced contents that equals another store's when the contents do."""
        parts: dict[str, str] = {}
        counts: dict[str, int] = {}
        for part in CONTENT_PARTS:
            total = n = 0
            for row in self.content_rows(part):
                line = orjson.dumps(row)
                total = (total + int.from_bytes(sha256(line).digest(), "big")) % _MOD
                n += 1
            counts[part] = n
            parts[part] = sha256(f"{part}\x1f{n}\x1f{total:064x}".encode()).hexdigest()
        whole = sha256("\n".join(f"{p}:{parts[p]}" for p in CONTENT_PARTS).encode()).hexdigest()
        return ContentDigest(digest=whole, parts=parts, counts=counts)
