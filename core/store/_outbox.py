"""The push outbox (DESIGN.md §4): each change once, by its idempotency key.

``enqueue`` inserts with ``ON CONFLICT (key) DO NOTHING``, so a re-planned run that computes the
same changes again (same keys) adds nothing, and a change already sent is never queued twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import bindparam, select

from core.connector import Change
from core.model import record_from_data
from core.store._base import StoreBase, chunked, in_chunks, utcnow
from core.store._schema import outbox
from core.store._types import OUTBOX_STATUSES, OutboxItem

__all__ = ["OutboxStore"]

_o = outbox.c
_COUNTS_AN_ATTEMPT = frozenset({"sent", "failed"})


class OutboxStore(StoreBase):
    def enqueue(
        self, school: str, platform: str, changes: Iterable[Change], *, channel: str
    ) -> int:
        """Queue changes as ``pending``; returns how many keys were new."""
        new = 0
        now = utcnow()
        with self._write() as conn:
            for batch in chunked(changes):
                by_key = {c.key: c for c in batch}
                rows = [
                    {
                        "key": c.key,
                        "school": school,
                        "platform": platform,
                        "entity": c.record.ENTITY,
                        "record_id": c.record.id,
                        "op": c.op,
                        "data": c.record.content_json.decode(),
                        "channel": channel,
                        "status": "pending",
                        "attempts": 0,
                        "last_error": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in by_key.values()
                ]
                present = set(
                    conn.execute(select(_o.key).where(_o.key.in_(list(by_key)))).scalars()
                )
                rows = [r for r in rows if r["key"] not in present]
                if rows:
                    ins = self._upsert(outbox)
                    conn.execute(ins.on_conflict_do_nothing(index_elements=[_o.key]), rows)
                    new += len(rows)
        return new

    def outbox(
        self, school: str, platform: str, status: str | Sequence[str] | None = None
    ) -> list[OutboxItem]:
        """Items in queue order, optionally of some statuses only."""
        stmt = select(outbox).where(_o.school == school, _o.platform == platform)
        if isinstance(status, str):
            stmt = stmt.where(_o.status == status)
        elif status is not None:
            stmt = stmt.where(_o.status.in_(list(status)))
        with self._read() as conn:
            return [_item(row._mapping) for row in conn.execute(stmt.order_by(_o.seq))]

    def set_outbox_status(
        self, keys: Sequence[str], status: str, *, error: str | None = None
    ) -> None:
        """Move items to ``status``; a send attempt (sent / failed) counts in ``attempts``."""
        if status not in OUTBOX_STATUSES:
            raise ValueError(
                f"unknown outbox status {status!r}; use one of {', '.join(sorted(OUTBOX_STATUSES))}"
            )
        bump = 1 if status in _COUNTS_AN_ATTEMPT else 0
        stmt = (
            outbox.update()
            .where(_o.key.in_(bindparam("keys", expanding=True)))
            .values(
                status=status,
                attempts=_o.attempts + bump,
                last_error=error,
                updated_at=utcnow(),
            )
        )
        with self._write() as conn:
            for chunk in in_chunks(list(dict.fromkeys(keys))):
                conn.execute(stmt, {"keys": list(chunk)})


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        key=row["key"],
        school=row["school"],
        platform=row["platform"],
        entity=row["entity"],
        record_id=row["record_id"],
        op=row["op"],
        record=record_from_data(row["entity"], orjson.loads(row["data"])),
        channel=row["channel"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
