"""Apply a migration plan (``core.migrate``) through the target's channels (issue 15 item 4).

The plan's writes go to the outbox of the *target* binding (school × target platform) with keys
of their own (:func:`item_key`, over the plan and the record's content), never to the school's
local journal: the local journal is compared with the binding in effect (drift), and a migration
written there would show the source binding thousands of "differences" in the target's ids.

``apply`` is resumable: queuing is ``ON CONFLICT DO NOTHING`` by key, and the push sends only
what is not yet verified — a run killed between a send and its record sends that batch again,
which the connectors' pushes take without a second write (they read first, then write only what
differs). Hand-entry items (worklist, package) wait as ``awaiting_entry`` until a pull of the
target shows them (the certificate counts them as awaited).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.connector import Change, Connector, PushChannel
from core.migrate import JOURNAL_ORDER, MigrationPlan, PlanItem, item_key
from core.model import Lesson
from core.store import Store
from core.sync._push import PushResult, push

__all__ = ["ApplyResult", "apply_plan", "plan_keys", "queue_plan", "status_by_key"]

_HAND = (PushChannel.WORKLIST.value, PushChannel.PACKAGE.value)


@dataclass(slots=True)
class ApplyResult:
    queued: int = 0
    by_channel: Counter[str] = field(default_factory=Counter)
    pushed: PushResult | None = None
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def state(self) -> str:
        """The plan's state after this apply: ``applied`` when every api write is verified and
        nothing waits for hand entry, ``awaiting_entry`` when only hand entries wait,
        ``applying`` when api writes are left (failed or pending: run ``apply`` again)."""
        if self.statuses["failed"] or self.statuses["pending"] or self.statuses["sent"]:
            return "applying"
        if self.statuses["awaiting_entry"]:
            return "awaiting_entry"
        return "applied"


def plan_keys(plan_id: str, plan: MigrationPlan) -> dict[str, str]:
    """Outbox key → channel of every write of the plan."""
    return {
        item_key(plan_id, i.record): i.channel or PushChannel.API.value
        for i in plan.items
        if i.writes and i.record is not None
    }


def _queue_order(item: PlanItem, group_of: Mapping[str, str]) -> tuple[int, int, str, str]:
    """Lessons first, then every first mark of a slot before any second one: a platform that
    numbers a lesson's marks of one work type (NetSchool's assignments) cannot create slot 2
    before slot 1, and the outbox is sent in queue order, batch by batch. Within that, by group
    and lesson: a batch then holds a few groups' lessons whole, which a connector reads and
    writes a group or a lesson at a time."""
    record = item.record
    lesson = record.id if isinstance(record, Lesson) else getattr(record, "lesson_id", None)
    lesson = lesson if isinstance(lesson, str) else ""
    return (
        JOURNAL_ORDER.index(item.entity),
        getattr(record, "ordinal", 0),
        group_of.get(lesson, ""),
        lesson,
    )


def queue_plan(store: Store, plan_id: str, plan: MigrationPlan, platform: str) -> Counter[str]:
    """Queue the plan's writes in the target's outbox (once: by key); new items per channel."""
    writes = [i for i in plan.items if i.writes and i.record is not None]
    group_of: dict[str, str] = {}
    if writes:
        # Each lesson's group, from the plan and the target's snapshot (a lesson of the plan may
        # be only in one of them).
        group_of = {
            r.id: r.group_id
            for r in store.remote_records(plan.school, platform, "lesson")
            if isinstance(r, Lesson)
        }
        group_of.update(
            (i.record.id, i.record.group_id) for i in writes if isinstance(i.record, Lesson)
        )
    by_channel: dict[str, list[Change]] = {}
    for i in sorted(writes, key=lambda i: _queue_order(i, group_of)):
        assert i.record is not None
        channel = i.channel or PushChannel.API.value
        by_channel.setdefault(channel, []).append(
            Change(key=item_key(plan_id, i.record), op="upsert", record=i.record)
        )
    return Counter(
        {
            channel: store.enqueue(plan.school, platform, changes, channel=channel)
            for channel, changes in by_channel.items()
        }
    )


async def apply_plan(
    store: Store, connector: Connector, plan_id: str, plan: MigrationPlan
) -> ApplyResult:
    """Queue and push the plan's writes through the target's connector (see the docstring)."""
    platform = connector.target.platform
    result = ApplyResult()
    result.by_channel = queue_plan(store, plan_id, plan, platform)
    result.queued = sum(result.by_channel.values())
    keys = plan_keys(plan_id, plan)
    # An explicit re-run retries what the platform refused before (push leaves it failed).
    failed = [i.key for i in store.outbox(plan.school, platform, "failed") if i.key in keys]
    if failed:
        store.set_outbox_status(failed, "pending")
    result.pushed = await push(store, connector, keys=keys)
    result.statuses = outbox_statuses(store, plan.school, platform, keys)
    return result


def outbox_statuses(
    store: Store, school: str, platform: str, keys: dict[str, str] | set[str]
) -> Counter[str]:
    return Counter(i.status for i in store.outbox(school, platform) if i.key in keys)


def status_by_key(store: Store, school: str, platform: str, keys: set[str]) -> dict[str, str]:
    return {i.key: i.status for i in store.outbox(school, platform) if i.key in keys}
