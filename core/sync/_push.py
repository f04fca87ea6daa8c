"""Push: the outbox through the connector's channel, then verification by reading back.

An outbox item moves ``pending → sent → verified`` (or ``failed`` with the reason). Items are
keyed by an idempotency key, and the connector's ``push`` must be safe to repeat, so a crash
between sending and recording is healed by sending again. Items for a channel the platform has
no write API for wait as ``awaiting_entry`` until a later pull shows them (see reconcile).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from core.connector import Change, Connector, PushChannel
from core.errors import Retriable
from core.logging import get_logger
from core.model import Record
from core.store import OutboxItem, Store
from core.sync._reconcile import unmet

__all__ = ["PushResult", "push"]

log = get_logger(__name__)

_RETRY_STATUSES = ("pending", "sent")


@dataclass(slots=True)
class PushResult:
    sent: int = 0
    verified: int = 0
    failed: int = 0
    awaiting_entry: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (entity/record id, reason)

    def as_counts(self) -> dict[str, int]:
        return {
            "pushed": self.sent,
            "verified": self.verified,
            "push_failed": self.failed,
            "awaiting_entry": self.awaiting_entry,
        }


def _refs(store: Store, platform: str, record: Record) -> dict[str, dict[str, str]]:
    """External ids of the record and everything it refers to, from the remote snapshot."""
    ids = {record.id}
    for name, value in record:
        if name.endswith("_id") and isinstance(value, str):
            ids.add(value)
    return store.remote_external_ids(platform, ids)


def _changes(store: Store, platform: str, items: Sequence[OutboxItem]) -> list[Change]:
    return [
        Change(
            key=i.key,
            op="delete" if i.op == "delete" else "upsert",
            record=i.record,
            refs=_refs(store, platform, i.record),
        )
        for i in items
    ]


async def push(
    store: Store,
    connector: Connector,
    *,
    batch_size: int = 200,
    run_id: str | None = None,
    keys: Collection[str] | None = None,
) -> PushResult:
    """Send what the outbox holds for this school and platform, and verify it.

    ``keys`` limits the push to those items (a migration plan's own), leaving the rest of the
    school's queue to its scheduled runs.
    """
    only = frozenset(keys) if keys is not None else None
    target = connector.target
    school, platform = target.school, target.platform
    result = PushResult()
    # Items an older version queued without the connector's capabilities go to its channel.
    if moved := store.rechannel(school, platform, connector.capabilities):
        log.info("outbox items moved to the channel the platform offers", count=moved)

    waiting = [
        i
        for i in store.outbox(school, platform, status="pending")
        if i.channel != PushChannel.API.value and (only is None or i.key in only)
    ]
    if waiting:
        store.set_outbox_status([i.key for i in waiting], "awaiting_entry")
        result.awaiting_entry = len(waiting)

    items = [
        i
        for i in store.outbox(school, platform, status=_RETRY_STATUSES)
        if i.channel == PushChannel.API.value and (only is None or i.key in only)
    ]
    if not items:
        return result
    await connector.login()
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        changes = _changes(store, platform, batch)
        try:
            outcomes = await connector.push(changes)
        except Retriable as exc:
            store.set_outbox_status([i.key for i in batch], "pending", error=exc.message)
            result.failed += len(batch)
            result.failures.extend((f"{i.entity}/{i.record_id}", exc.message) for i in batch)
            continue
        by_key = {o.key: o for o in outcomes}
        sent = [c for c in changes if by_key.get(c.key) and by_key[c.key].ok]
        for c in changes:
            o = by_key.get(c.key)
            if o is None or not o.ok:
                reason = o.message if o else "the connector returned no outcome"
                status = "pending" if o is not None and o.retriable else "failed"
                store.set_outbox_status([c.key], status, error=reason)
                result.failed += 1
                result.failures.append((f"{c.record.ENTITY}/{c.record.id}", reason))
        if not sent:
            continue
        store.set_outbox_status([c.key for c in sent], "sent")
        result.sent += len(sent)
        current = await connector.read_back(sent)
        verified: list[str] = []
        for c in sent:
            why = unmet(c.record, c.op, current.get(c.record.id), connector.capabilities)
            if why is None:
                verified.append(c.key)
            else:
                store.set_outbox_status([c.key], "failed", error=f"{why} after push")
                result.failed += 1
                result.failures.append((f"{c.record.ENTITY}/{c.record.id}", f"{why} after push"))
        if verified:
            store.set_outbox_status(verified, "verified")
            result.verified += len(verified)
    log.info("push finished", **result.as_counts())
    return result
