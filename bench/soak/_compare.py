"""Compare a store with a reference store: digests, and which records were lost or doubled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.store import CONTENT_PARTS, Store

__all__ = ["STATE_PARTS", "Comparison", "compare", "snapshot"]

#: remote part columns: platform, school, entity, id, parent_id, content_hash, deleted, …, stale
_KEY = slice(0, 4)
_HASH, _DELETED, _STALE = 5, 6, 8


@dataclass(frozen=True)
class Snapshot:
    digest: str
    parts: dict[str, str]
    remote: dict[tuple[Any, ...], tuple[Any, ...]]
    remote_rows: int


#: The synced state. The other parts (change history, quarantine) journal what happened on the
#: way — a record refused while a field was missing, a record changed and changed back — and
#: are compared too, but reported apart: a faulted run is allowed to leave its trace there.
STATE_PARTS = ("remote", "local", "outbox", "findings")


@dataclass
class Comparison:
    equal: bool = True  # the whole content digest is the reference's
    state_equal: bool = True  # the state parts' digests are the reference's
    lost: int = 0  # live in the reference, absent / deleted / stale here
    duplicated: int = 0  # live here, absent from the reference
    differing: int = 0  # both live, other contents
    parts: list[str] = field(default_factory=list)  # the parts whose digest differs


def snapshot(store: Store) -> Snapshot:
    d = store.content_digest()
    remote: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    rows = 0
    for row in store.content_rows("remote"):
        remote[tuple(row[_KEY])] = tuple(row)
        rows += 1
    return Snapshot(d.digest, dict(d.parts), remote, rows)


def _live(row: tuple[Any, ...] | None) -> bool:
    return row is not None and not row[_DELETED] and not row[_STALE]


def compare(actual: Snapshot, reference: Snapshot) -> Comparison:
    out = Comparison(equal=actual.digest == reference.digest)
    out.parts = [p for p in CONTENT_PARTS if actual.parts.get(p) != reference.parts.get(p)]
    out.state_equal = not any(p in STATE_PARTS for p in out.parts)
    # Two rows of one key cannot both be in the table (its primary key): a count above the
    # number of keys would mean the store itself holds a record twice.
    out.duplicated += actual.remote_rows - len(actual.remote)
    for key, ref in reference.remote.items():
        got = actual.remote.get(key)
        if _live(ref) and not _live(got):
            out.lost += 1
        elif _live(ref) and got is not None and got[_HASH] != ref[_HASH]:
            out.differing += 1
    for key, got in actual.remote.items():
        if _live(got) and not _live(reference.remote.get(key)):
            out.duplicated += 1
    return out
