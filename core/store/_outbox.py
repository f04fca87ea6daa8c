"""The push outbox (DESIGN.md §4): each change once, by its idempotency key.

``enqueue`` inserts with ``ON CONFLICT (key) DO NOTHING``, so a re-planned run that computes the
same changes again (same keys) adds nothing, and a change already sent is never queued twice.

``rechannel`` moves items that wait on a channel the platform does not offer for their entity
back to the channel it does offer (see :func:`rechannel`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select

from core.connector import Capabilities, Change
from core.model import record_from_data
from core.store._base import StoreBase, chunked, in_chunks, utcnow
from core.store._schema import outbox
from core.store._types import OUTBOX_STATUSES, OutboxItem

__all__ = ["OutboxStore", "rechannel"]

_o = outbox.c
_COUNTS_AN_ATTEMPT = frozenset({"sent", "failed"})
#: Items not yet on the platform: a channel move puts them back in the queue (``pending``).
_NOT_SENT = ("pending", "awaiting_entry")


def rechannel(
    conn: Connection, platform: str, capabilities: Capabilities, school: str | None = None
) -> int:
    """Move the platform's unsent items off channels it does not offer for their entity.

    An item waits on the wrong channel when an earlier version queued it without the
    connector's capabilities (it fell back to the worklist): ``push`` never sends a worklist
    item, so a NetSchool mark stayed "awaiting hand entry" for good. Such an item goes to the
    first channel offered for its entity, as ``pending``; an item on a channel that *is*
    offered (a package asked for on purpose) stays, and so do entities with no channel at all.
    Sent, verified and failed items are history and are never moved. Returns how many moved.
    """
    moved = 0
    for entity in sorted({e for c in capabilities.push for e in c.entities}):
        offered = [c.value for c in capabilities.channels_for(entity)]
        stmt = (
            outbox.update()
            .where(
                _o.platform == platform,
                _o.entity == entity,
                _o.status.in_(_NOT_SENT),
                _o.channel.not_in(offered),
            )
            .values(channel=offered[0], status="pending", updated_at=utcnow())
        )
        if school is not None:
            stmt = stmt.where(_o.school == school)
        moved += conn.execute(stmt).rowcount
    return moved


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

    def rechannel(self, school: str, platform: str, capabilities: Capabilities) -> int:
        """:func:`rechannel` for one school (items queued without capabilities go back to the
        channel the platform offers); returns how many moved."""
        with self._write() as conn:
            return rechannel(conn, platform, capabilities, school)

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
