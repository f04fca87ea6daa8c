"""The certificate of a migration (issue 15 item 4): the plan against a fresh pull of the target.

Every source record of the plan lands in exactly one bucket:

* ``matched`` — the target shows it, on the fields it carries, with no value translated;
* ``explained`` (by reason) — the target shows it as its table translates it (ЭПОС's weight 2 for
  1.5), or cannot hold it at all (a mark NetSchool's journal refuses, an entity no channel of the
  target writes), or a field the target does not carry;
* ``awaited`` — a hand-entry channel's entry (worklist, package) not yet seen on the target,
  or a write not yet sent (the plan not applied, or ``apply`` stopped before it);
* ``unexplained`` — anything else: missing, another value, a conflict left as it was, a record
  blocked by an unmatched pupil or lesson. Each is listed.

Journal records only the target holds (under the lessons the plan wrote to) are unexplained too.
Roster entities count from the match: matched, rejected by the operator (explained), needed
through the target operator's package (awaited), or unmatched (unexplained).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from hashlib import blake2b
from typing import Any

from core.connector import Capabilities, PushChannel
from core.migrate._plan import JOURNAL_ORDER, ROSTER_ORDER, MigrationPlan, PlanItem
from core.model import Record
from core.translation import FIELD_TITLES

__all__ = ["certificate", "item_key", "shown_keys"]


_HAND = (PushChannel.WORKLIST.value, PushChannel.PACKAGE.value)


def item_key(plan_id: str, record: Record) -> str:
    """The outbox idempotency key of writing ``record`` for a plan: a re-run of ``apply``
    queues nothing twice, and another plan over the same record is a change of its own."""
    raw = f"migrate|{plan_id}|{record.id}|{record.content_hash}"
    return blake2b(raw.encode(), digest_size=16).hexdigest()


def _diff(
    item: PlanItem,
    now: Record | None,
    capabilities: Capabilities,
    source: Capabilities | None = None,
) -> list[str]:
    """The fields where the target differs from what the plan wrote (``["*"]``: missing), on
    the fields both platforms carry (a field the source never had is the target's to fill)."""
    assert item.record is not None
    if now is None:
        return ["*"]
    skip = capabilities.fields_not_carried.get(item.entity, frozenset()) | {"school"}
    if source is not None:
        skip |= source.fields_not_carried.get(item.entity, frozenset())
    mine, theirs = item.record.__dict__, now.__dict__
    return [
        n
        for n in type(item.record).model_fields
        if n not in skip and n != "provenance" and mine[n] is not None and mine[n] != theirs[n]
    ]


def certificate(
    plan: MigrationPlan,
    *,
    plan_id: str,
    target_records: Mapping[str, Iterable[Record]],
    target_capabilities: Capabilities,
    outbox_status: Mapping[str, str],
    describe: Callable[[str, str, Record | None], str] | None = None,
    source_capabilities: Capabilities | None = None,
) -> dict[str, Any]:
    """The certificate's content (``certificate.json``); see the module docstring."""
    say = describe or (lambda entity, source_id, record: "")

    def _listed(item: PlanItem, why: str) -> dict[str, Any]:
        return {
            "entity": item.entity,
            "what": say(item.entity, item.source_id, item.record),
            "why": why,
        }

    theirs = {
        e: {r.id: r for r in target_records.get(e, ())} for e in (*ROSTER_ORDER, *JOURNAL_ORDER)
    }
    entities: dict[str, dict[str, Any]] = {}
    unexplained: list[dict[str, Any]] = []
    awaited: list[dict[str, Any]] = []

    for entity in ROSTER_ORDER:
        rows = [r for r in plan.roster if r.entity == entity]
        if not rows:
            continue
        c = _bucket(len(rows), len(theirs[entity]))
        for r in rows:
            if r.state == "matched":
                c["matched"] += 1
            elif r.state == "rejected":
                c["explained"]["rejected_by_operator"] += 1
            elif r.state == "needed" and r.channel:
                c["awaited"] += 1
                awaited.append({"entity": entity, "what": r.label, "channel": r.channel})
            else:
                c["unexplained"] += 1
                unexplained.append(
                    {"entity": entity, "what": r.label, "why": _ROSTER_WHY.get(r.state, r.state)}
                )
        entities[entity] = _close(c)

    for entity in JOURNAL_ORDER:
        items = [i for i in plan.items if i.entity == entity]
        if not items:
            continue
        now = theirs[entity]
        c = _bucket(len(items), len(now))
        planned: set[str] = set()
        parents: set[str] = set()
        for i in items:
            if i.record is not None:
                planned.add(i.record.id)
                if i.record.parent_id:
                    parents.add(i.record.parent_id)
            if i.op == "not_carried":
                c["explained"][i.explained[0].reason.code] += 1
                continue
            if i.op == "blocked":
                c["unexplained"] += 1
                unexplained.append(_listed(i, _BLOCKED.get(i.why, "нет соответствия")))
                continue
            fields = _diff(i, now.get(i.target_id or ""), target_capabilities, source_capabilities)
            if i.op == "conflict" and fields:
                c["unexplained"] += 1
                unexplained.append(
                    _listed(i, "на целевой платформе другое значение: " + _titles(fields))
                )
            elif not fields:
                if i.explained:
                    c["explained"][i.explained[0].reason.code] += 1
                else:
                    c["matched"] += 1
            elif _waiting(i, outbox_status.get(item_key(plan_id, i.record))):  # type: ignore[arg-type]
                c["awaited"] += 1
            else:
                c["unexplained"] += 1
                why = (
                    "нет на целевой платформе"
                    if fields == ["*"]
                    else "на целевой платформе другое значение: " + _titles(fields)
                )
                unexplained.append(_listed(i, why))
        if entity != "lesson":
            for rid, rec in now.items():
                if rid not in planned and rec.parent_id in parents:
                    c["unexplained"] += 1
                    unexplained.append(
                        {
                            "entity": entity,
                            "what": say(entity, "", rec),
                            "why": "есть только на целевой платформе",
                        }
                    )
        if c["awaited"]:
            awaited.append({"entity": entity, "count": c["awaited"]})
        entities[entity] = _close(c)

    total_unexplained = sum(e["unexplained"] for e in entities.values())
    total_awaited = sum(e["awaited"] for e in entities.values())
    return {
        "plan": plan_id,
        "school": plan.school,
        "source": plan.source,
        "target": plan.target,
        "entities": entities,
        "reasons": {
            code: {"text": r.text, "source": r.source} for code, r in sorted(plan.reasons.items())
        },
        "unexplained": unexplained,
        "awaited": awaited,
        "complete": total_unexplained == 0 and total_awaited == 0,
    }


_ROSTER_WHY = {
    "needed": "нет на целевой платформе; создаёт оператор платформы",
    "pending": "сопоставление не подтверждено (файл сверки)",
}
_BLOCKED = {
    "student": "ученик не сопоставлен с целевой платформой",
    "lesson": "урок не найден на целевой платформе",
    "group": "группа не сопоставлена с целевой платформой",
    "subject": "предмет не сопоставлен с целевой платформой",
    "period": "период не сопоставлен с целевой платформой",
    "class": "класс не сопоставлен с целевой платформой",
}


def _waiting(item: PlanItem, status: str | None) -> bool:
    """Not on the target yet for a reason that is no fault: a hand entry not yet made, or a
    write not yet sent (the plan not applied, or ``apply`` stopped before it)."""
    if status in (None, "pending", "sent"):
        return True
    return item.channel in _HAND and status == "awaiting_entry"


def _titles(fields: list[str]) -> str:
    return ", ".join(FIELD_TITLES.get(f, f) for f in fields)


def _bucket(source: int, target: int | None) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "matched": 0,
        "explained": Counter(),
        "awaited": 0,
        "unexplained": 0,
    }


def _close(c: dict[str, Any]) -> dict[str, Any]:
    c["explained"] = dict(sorted(c["explained"].items()))
    return c


def shown_keys(
    plan: MigrationPlan,
    *,
    plan_id: str,
    target_records: Mapping[str, Iterable[Record]],
    target_capabilities: Capabilities,
    source_capabilities: Capabilities | None = None,
) -> list[str]:
    """Outbox keys of the plan's writes the target now shows (on the fields it carries)."""
    theirs = {e: {r.id: r for r in target_records.get(e, ())} for e in JOURNAL_ORDER}
    return [
        item_key(plan_id, i.record)
        for i in plan.items
        if i.writes
        and i.record is not None
        and not _diff(
            i,
            theirs.get(i.entity, {}).get(i.record.id),
            target_capabilities,
            source_capabilities,
        )
    ]
