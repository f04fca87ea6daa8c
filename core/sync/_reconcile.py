"""Reconcile: local records against the remote snapshot, field by field (DESIGN.md §4).

The store finds the candidate rows in SQL (missing on the platform, extra on the platform,
content hash differs); this module compares the few differing rows field by field, records the
findings with their lifecycle, and applies each entity's resolution policy:

* ``push_local`` — the school's local journal is authoritative: a record missing on the platform
  or different there goes to the outbox, to be pushed and verified (records only the platform
  has are left for review, never deleted automatically);
* ``accept_remote`` — the platform wins: the local record is overwritten from the snapshot;
* ``manual`` — the finding stays open for a person to review.

Outbox items waiting for hand entry (the worklist channel) are verified here too: once the
snapshot shows the expected content, the item is verified.

The channel of every queued change comes from the connector's capabilities, which are a class
attribute: a caller without a connector (``journalsync drift``, a test) gets them looked up by
platform, so no caller can queue a change on a channel the platform does not offer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from hashlib import blake2b
from typing import Any, Literal

import orjson

from core.connector import Capabilities, Change, PushChannel
from core.logging import get_logger
from core.model import Record, record_from_data
from core.platform import connector_class
from core.store import DiffRow, FieldDiff, NewFinding, Store

__all__ = [
    "DEFAULT_POLICIES",
    "Policy",
    "ReconcileResult",
    "capabilities_of",
    "change_key",
    "field_diffs",
    "reconcile",
    "unmet",
]

log = get_logger(__name__)


class Policy(StrEnum):
    PUSH_LOCAL = "push_local"
    ACCEPT_REMOTE = "accept_remote"
    MANUAL = "manual"


#: Journal entries a teacher writes are pushed from the local journal; structure (people,
#: classes, groups, periods) belongs to the platform and differences there need a person.
DEFAULT_POLICIES: Mapping[str, Policy] = {
    "mark": Policy.PUSH_LOCAL,
    "attendance": Policy.PUSH_LOCAL,
    "lesson": Policy.PUSH_LOCAL,
    "homework": Policy.PUSH_LOCAL,
    "final_mark": Policy.PUSH_LOCAL,
}


@dataclass(slots=True)
class ReconcileResult:
    by_kind: Counter[str] = field(default_factory=Counter)
    by_entity: Counter[str] = field(default_factory=Counter)
    opened: int = 0
    reopened: int = 0
    resolved: int = 0
    still_open: int = 0
    enqueued: int = 0
    accepted_remote: int = 0
    verified_entries: int = 0
    findings: list[NewFinding] = field(default_factory=list)

    @property
    def drift(self) -> int:
        return sum(self.by_kind.values())

    def as_counts(self) -> dict[str, int]:
        return {
            "drift": self.drift,
            **{f"drift_{k}": v for k, v in sorted(self.by_kind.items())},
            "findings_opened": self.opened,
            "findings_resolved": self.resolved,
            "enqueued": self.enqueued,
            "accepted_remote": self.accepted_remote,
        }


def change_key(record: Record, op: Literal["upsert", "delete"], base: str | None) -> str:
    """Idempotency key of pushing ``record`` over the platform state ``base``.

    ``base`` is the content hash of the platform's version being replaced (``None`` when it has
    none). The same change over the same platform state always gets the same key, so a retry
    is never sent twice; when the platform's value changes after a verified push, correcting
    it again is a new change with a new key.
    """
    raw = f"{record.id}|{op}|{record.content_hash if op == 'upsert' else ''}|{base or ''}"
    return blake2b(raw.encode(), digest_size=16).hexdigest()


def _hash_of(data: Mapping[str, Any] | None) -> str | None:
    if data is None:
        return None
    return blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


def field_diffs(
    local: Mapping[str, Any] | None,
    remote: Mapping[str, Any] | None,
    ignore: Iterable[str] = (),
) -> tuple[FieldDiff, ...]:
    """The fields whose values differ; an absent side shows as ``None``.

    When both sides exist, a field the local record leaves unset (``None``: the paper journal
    did not record the teacher, the minutes late …) is not compared: the local journal is
    authoritative for what it states, not for what it omits.
    """
    skip = set(ignore)
    loc, rem = local or {}, remote or {}
    both = local is not None and remote is not None
    names = sorted((set(loc) | set(rem)) - skip)
    return tuple(
        FieldDiff(field=n, local=loc.get(n), remote=rem.get(n))
        for n in names
        if loc.get(n) != rem.get(n) and not (both and loc.get(n) is None)
    )


def capabilities_of(platform: str) -> Capabilities:
    """The installed connector's capabilities (a class attribute: nothing is built or logged
    in); :class:`core.errors.ConfigError` for a platform no connector is installed for."""
    return connector_class(platform).capabilities


def _not_carried(capabilities: Capabilities | None, entity: str) -> frozenset[str]:
    if capabilities is None:
        return frozenset()
    return capabilities.fields_not_carried.get(entity, frozenset())


def reconcile(
    store: Store,
    school: str,
    platform: str,
    *,
    capabilities: Capabilities | None = None,
    policies: Mapping[str, Policy] = DEFAULT_POLICIES,
    run_id: str | None = None,
    local_is_complete: bool = False,
    channel: PushChannel | None = None,
) -> ReconcileResult:
    """Compare, record findings, apply policies. Returns what it found and did.

    By default the local journal is an overlay: authoritative for the entries it holds (a paper
    journal kept during an outage holds only those), so records the platform has beyond them
    are not drift. ``local_is_complete`` (a migration, a full local journal) also reports the
    records only the platform has, under the lessons/groups the local journal keeps.
    ``channel`` prefers a push channel (e.g. ``package`` for a migration) where the platform
    offers it for the entity; otherwise the first channel the connector declares is used.
    ``capabilities`` default to the installed connector's (:func:`capabilities_of`); items an
    earlier version queued on a channel the platform does not offer are moved back first.
    """
    if capabilities is None:
        capabilities = capabilities_of(platform)
    if moved := store.rechannel(school, platform, capabilities):
        log.info("outbox items moved to the channel the platform offers", count=moved)
    result = ReconcileResult()
    to_push: list[Change] = []
    to_accept: list[Record] = []
    for row in store.diff(school, platform):
        if row.kind == "extra_on_platform" and not local_is_complete:
            continue
        ignore = _not_carried(capabilities, row.entity)
        fields = field_diffs(row.local, row.remote, ignore)
        if row.kind == "mismatch" and not fields:
            # Differs only in fields the platform cannot carry: not drift.
            continue
        finding = NewFinding(row.entity, row.record_id, row.kind, fields)
        result.findings.append(finding)
        result.by_kind[row.kind] += 1
        result.by_entity[row.entity] += 1
        policy = policies.get(row.entity, Policy.MANUAL)
        if policy is Policy.PUSH_LOCAL:
            change = _change_for(row)
            if change is not None:
                to_push.append(change)
        elif policy is Policy.ACCEPT_REMOTE and row.remote is not None:
            to_accept.append(record_from_data(row.entity, row.remote))

    counts = store.record_findings(school, platform, result.findings, run_id=run_id)
    result.opened, result.reopened = counts.opened, counts.reopened
    result.resolved, result.still_open = counts.resolved, counts.still_open

    if to_push:
        result.enqueued = _enqueue(store, school, platform, to_push, capabilities, channel)
    if to_accept:
        store.upsert_local(school, to_accept, actor="reconcile", reason="accept remote")
        result.accepted_remote = len(to_accept)
    result.verified_entries = _verify_hand_entries(store, school, platform, capabilities)
    log.info("reconcile finished", **result.as_counts())
    return result


def _change_for(row: DiffRow) -> Change | None:
    """The push that makes the platform equal the local record.

    Records only the platform has are never deleted automatically: a teacher may have entered
    them on the platform, and the local journal may simply not know. They stay open findings.
    """
    if row.kind == "extra_on_platform" or row.local is None:
        return None
    record = record_from_data(row.entity, row.local)
    return Change(
        key=change_key(record, "upsert", _hash_of(row.remote)), op="upsert", record=record
    )


def _channel_for(
    entity: str, capabilities: Capabilities, preferred: PushChannel | None
) -> PushChannel:
    offered = capabilities.channels_for(entity)
    if preferred in offered:
        return preferred
    # An entity the platform offers no channel for can only be entered by hand.
    return offered[0] if offered else PushChannel.WORKLIST


def _enqueue(
    store: Store,
    school: str,
    platform: str,
    changes: list[Change],
    capabilities: Capabilities,
    preferred: PushChannel | None,
) -> int:
    by_channel: dict[PushChannel, list[Change]] = {}
    for c in changes:
        by_channel.setdefault(_channel_for(c.record.ENTITY, capabilities, preferred), []).append(c)
    return sum(
        store.enqueue(school, platform, items, channel=channel.value)
        for channel, items in by_channel.items()
    )


def unmet(
    record: Record, op: str, now: Record | None, capabilities: Capabilities | None
) -> str | None:
    """Why the platform does not (yet) show this change — ``None`` when it does.

    Compared on the fields the platform carries; one test for the api channel's read-back and
    for entries made by hand from a worklist or package.
    """
    if op == "delete":
        return None if now is None else "still present on the platform"
    if now is None:
        return "not found on the platform"
    diffs = field_diffs(record.data(), now.data(), _not_carried(capabilities, record.ENTITY))
    if diffs:
        return "the platform shows other values: " + ", ".join(d.field for d in diffs)
    return None


def _verify_hand_entries(
    store: Store, school: str, platform: str, capabilities: Capabilities | None
) -> int:
    """Outbox items entered by hand (worklist/package) are verified once the snapshot shows them
    — on the fields the platform carries; a wrong value entered stays open (and is drift)."""
    waiting = store.outbox(school, platform, status="awaiting_entry")
    if not waiting:
        return 0
    remote = {
        r.id: r
        for entity in {i.entity for i in waiting}
        for r in store.remote_records(school, platform, entity)
    }
    done = [
        i.key
        for i in waiting
        if unmet(i.record, i.op, remote.get(i.record_id), capabilities) is None
    ]
    if done:
        store.set_outbox_status(done, "verified")
    return len(done)
