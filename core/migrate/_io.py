"""A plan as JSON (the file the operator reads, and what the store keeps) and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from typing import Any

from core.migrate._plan import MigrationPlan, PlanItem, RosterItem
from core.model import record_from_data
from core.translation import DROP, Explained, Reason

__all__ = ["plan_from_json", "plan_to_json"]

FORMAT = 1


def _value(v: Any) -> Any:
    """An explained value as JSON: dates and times (a lesson's start the target does not keep)
    as ISO text, tuples as lists."""
    if v is DROP:
        return None
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    if isinstance(v, date | time):
        return v.isoformat()
    return v


def plan_to_json(plan: MigrationPlan, *, plan_id: str = "") -> dict[str, Any]:
    return {
        "format": FORMAT,
        "plan": plan_id,
        "school": plan.school,
        "source": plan.source,
        "target": plan.target,
        "pending_review": plan.pending_review,
        "counts": plan.counts(),
        "reasons": {
            code: {"text": r.text, "source": r.source} for code, r in sorted(plan.reasons.items())
        },
        "roster": [
            {
                "entity": r.entity,
                "source_id": r.source_id,
                "target_id": r.target_id,
                "state": r.state,
                "label": r.label,
                "channel": r.channel,
            }
            for r in plan.roster
        ],
        "items": [
            {
                "entity": i.entity,
                "op": i.op,
                "source_id": i.source_id,
                "record": i.record.data() if i.record is not None else None,
                "channel": i.channel,
                "fields": list(i.fields),
                "why": i.why,
                "explained": [
                    {
                        "field": e.field,
                        "source": _value(e.source),
                        "target": _value(e.target),
                        "dropped": e.target is DROP,
                        "reason": e.reason.code,
                    }
                    for e in i.explained
                ],
            }
            for i in plan.items
        ],
    }


def plan_from_json(data: Mapping[str, Any]) -> MigrationPlan:
    reasons = {
        code: Reason(code, r["text"], r["source"]) for code, r in data.get("reasons", {}).items()
    }
    plan = MigrationPlan(
        school=data["school"],
        source=dict(data["source"]),
        target=dict(data["target"]),
        reasons=reasons,
        pending_review=int(data.get("pending_review", 0)),
    )
    plan.roster = [
        RosterItem(
            r["entity"], r["source_id"], r["target_id"], r["state"], r["label"], r["channel"]
        )
        for r in data.get("roster", ())
    ]
    for i in data.get("items", ()):
        explained = tuple(
            Explained(
                i["entity"],
                i["source_id"],
                e["field"],
                e["source"],
                DROP if e["dropped"] else e["target"],
                reasons.get(e["reason"]) or Reason(e["reason"], e["reason"], ""),
            )
            for e in i["explained"]
        )
        plan.items.append(
            PlanItem(
                entity=i["entity"],
                op=i["op"],
                source_id=i["source_id"],
                record=record_from_data(i["entity"], i["record"]) if i["record"] else None,
                channel=i["channel"],
                fields=tuple(i["fields"]),
                explained=explained,
                why=i["why"],
            )
        )
    return plan
