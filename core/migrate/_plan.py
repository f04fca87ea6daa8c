"""A migration plan (issue 15 item 3): the source binding's journal in the target's ids, per
entity, as adds, updates, conflicts and *explained differences*.

Input: both bindings' snapshots (canonical records), the identity map of the match step and the
target's capabilities. Each source journal record is

1. **re-keyed** into the target's ids: persons through the identity map (their keys are
   ``platform:id``), groups, classes, subjects and periods through it too where their names
   differ, and lesson ids recomputed from the mapped group, date and number (:func:`rekey`);
2. **translated** by the target's :class:`core.translation.MigrationTable` (ЭПОС rounds weights,
   NetSchool refuses pass/fail …) — each changed or refused value is an :class:`Explained`
   with its reason; fields the target does not carry at all are explained generically;
3. **compared** with the target's record of the same id on the fields both sides carry: none →
   ``add``; equal → ``unchanged``; differing only where the target is empty (a lesson without a
   topic) → ``update``; the target holds another value → ``conflict`` (never overwritten).

A record that cannot be re-keyed (its pupil or lesson has no match) is ``blocked``; one the target
cannot hold, or whose entity no channel of the target writes, is ``not_carried``. Roster entities
come from the match: matched, or *needed* — to be created by the target's operator, through the
package where the target offers one for the entity.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.connector import Capabilities, PushChannel
from core.model import ENTITIES, Record, record_id
from core.translation import DROP, FIELD_TITLES, Explained, Reason

__all__ = [
    "JOURNAL_ORDER",
    "OPS",
    "ROSTER_ORDER",
    "MatchLike",
    "MigrationPlan",
    "PlanItem",
    "RosterItem",
    "build_plan",
    "group_by_entity",
    "not_carried_reason",
    "rekey",
]

#: Journal entities in the order a plan lists and applies them (lessons before their marks).
JOURNAL_ORDER = ("lesson", "mark", "attendance", "homework", "final_mark")
#: Roster entities as the match step pairs them.
ROSTER_ORDER = ("academic_year", "period", "class_unit", "subject", "group", "person")
OPS = ("add", "update", "conflict", "unchanged", "not_carried", "blocked")

#: Person references: unmatched, an optional one is left empty, a required one blocks.
_OPTIONAL_PERSON = frozenset({"teacher_id", "substitute_teacher_id"})
_REQUIRED = frozenset({"student_id", "group_id", "subject_id", "period_id", "class_id"})
_LISTS = frozenset({"student_ids", "teacher_ids", "member_ids"})


class MatchLike(Protocol):
    """One identity pair of the match step (``core.migrate`` ``Match``)."""

    @property
    def entity(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def target_id(self) -> str | None: ...
    @property
    def state(self) -> str: ...


def not_carried_reason(field_name: str, platform_title: str) -> Reason:
    title = FIELD_TITLES.get(field_name, field_name)
    return Reason(
        f"not_carried:{field_name}",
        f"поле «{title}» на платформе {platform_title} не хранится",
        "the connector's capabilities (fields_not_carried)",
    )


def _no_channel_reason(entity: str, platform_title: str) -> Reason:
    return Reason(
        f"no_channel:{entity}",
        f"записи этого вида на платформу {platform_title} не передаются ни одним каналом",
        "the connector's capabilities (push channels)",
    )


@dataclass(frozen=True, slots=True)
class PlanItem:
    entity: str
    op: str
    source_id: str
    #: What the target should hold (target ids), ``None`` when nothing is written.
    record: Record | None
    channel: str | None = None
    fields: tuple[str, ...] = ()  # update / conflict: the differing fields
    explained: tuple[Explained, ...] = ()
    why: str = ""  # blocked: what has no match

    @property
    def target_id(self) -> str | None:
        return self.record.id if self.record is not None else None

    @property
    def writes(self) -> bool:
        return self.op in ("add", "update") and self.record is not None


@dataclass(frozen=True, slots=True)
class RosterItem:
    entity: str
    source_id: str
    target_id: str | None
    state: str  # matched | needed | pending | rejected
    label: str = ""
    channel: str | None = None  # needed: the package channel when the target offers one


@dataclass(slots=True)
class MigrationPlan:
    school: str
    source: dict[str, Any]
    target: dict[str, Any]
    items: list[PlanItem] = field(default_factory=list)
    roster: list[RosterItem] = field(default_factory=list)
    reasons: dict[str, Reason] = field(default_factory=dict)
    pending_review: int = 0

    def counts(self) -> dict[str, dict[str, Any]]:
        """Per entity: ``source`` and each op's count, explained values by reason."""
        out: dict[str, dict[str, Any]] = {}
        for entity in ROSTER_ORDER:
            rows = [r for r in self.roster if r.entity == entity]
            if rows:
                states = Counter(r.state for r in rows)
                out[entity] = {"source": len(rows), **{s: states[s] for s in sorted(states)}}
        for entity in JOURNAL_ORDER:
            items = [i for i in self.items if i.entity == entity]
            if not items:
                continue
            ops = Counter(i.op for i in items)
            reasons: Counter[str] = Counter()
            for i in items:
                for e in {e.reason.code for e in i.explained}:
                    reasons[e] += 1
            out[entity] = {
                "source": len(items),
                **{op: ops[op] for op in OPS},
                "explained": dict(sorted(reasons.items())),
            }
        return out


def rekey(
    record: Record, resolve: Mapping[str, str | None], lessons: Mapping[str, str]
) -> tuple[Record | None, str]:
    """``record`` in the target's ids, or ``(None, what has no match)``.

    ``resolve`` maps a source roster id to its target id (``None``: unmatched); ``lessons`` maps
    source lesson ids to target lesson ids (computed from the mapped group).
    """
    values = record.__dict__
    update: dict[str, Any] = {}
    for name in type(record).model_fields:
        value = values[name]
        if name == "lesson_id":
            mapped = lessons.get(value)
            if mapped is None:
                return None, "lesson"
            update[name] = mapped
        elif name in _REQUIRED:
            mapped = resolve.get(value)
            if mapped is None:
                return None, name.removesuffix("_id")
            update[name] = mapped
        elif name in _OPTIONAL_PERSON:
            update[name] = resolve.get(value) if value is not None else None
        elif name in _LISTS:
            mapped_list = [resolve.get(v) for v in value]
            update[name] = tuple(v for v in mapped_list if v is not None)
    return record.model_copy(update=update), ""


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == () or value == []


def _defaults(entity: str) -> dict[str, Any]:
    cls = ENTITIES[entity]
    return {n: f.default for n, f in cls.model_fields.items() if not f.is_required()}


def build_plan(
    *,
    school: str,
    source: Mapping[str, Any],
    target: Mapping[str, Any],
    source_records: Mapping[str, Sequence[Record]],
    target_records: Mapping[str, Sequence[Record]],
    id_map: Mapping[str, str],
    source_capabilities: Capabilities,
    target_capabilities: Capabilities,
    matches: Iterable[MatchLike] = (),
    target_title: str = "",
    labels: Mapping[str, str] | None = None,
) -> MigrationPlan:
    """The plan of moving ``source_records`` onto the target (see the module docstring)."""
    title = target_title or target_capabilities.platform
    plan = MigrationPlan(school=school, source=dict(source), target=dict(target))
    target_ids = {r.id for recs in target_records.values() for r in recs}

    # Roster: the match's verdicts; an id both sides share resolves to itself.
    resolve: dict[str, str | None] = {}
    for m in matches:
        if m.state == "ambiguous":
            plan.pending_review += 1
        state = {"matched": "matched", "rejected": "rejected", "ambiguous": "pending"}.get(
            m.state, "needed"
        )
        channel = None
        if state == "needed" and PushChannel.PACKAGE in target_capabilities.channels_for(m.entity):
            channel = PushChannel.PACKAGE.value
        plan.roster.append(
            RosterItem(
                m.entity,
                m.source_id,
                m.target_id if state == "matched" else None,
                state,
                (labels or {}).get(m.source_id, ""),
                channel,
            )
        )
        resolve[m.source_id] = m.target_id if state == "matched" else None
    for src_id, tgt_id in id_map.items():
        resolve.setdefault(src_id, tgt_id)
    for entity in ROSTER_ORDER:
        for r in source_records.get(entity, ()):
            if r.id not in resolve and r.id in target_ids:
                resolve[r.id] = r.id

    lessons: dict[str, str] = {}
    for le in source_records.get("lesson", ()):
        group = resolve.get(le.group_id)  # type: ignore[attr-defined]
        if group is not None:
            lessons[le.id] = record_id("lesson", group, le.date, le.number)  # type: ignore[attr-defined]

    table = target_capabilities.migration
    for entity in JOURNAL_ORDER:
        records = source_records.get(entity, ())
        if not records:
            continue
        theirs = {r.id: r for r in target_records.get(entity, ())}
        channels = target_capabilities.channels_for(entity)
        source_skip = source_capabilities.fields_not_carried.get(entity, frozenset())
        target_skip = target_capabilities.fields_not_carried.get(entity, frozenset())
        defaults = _defaults(entity)
        compare = [
            n
            for n in ENTITIES[entity].model_fields
            if n not in ("school", "provenance") and n not in source_skip and n not in target_skip
        ]
        ruled = table.fields(entity)
        renumber = (
            _per_pupil_ordinals(records, resolve, lessons, table)
            if entity == "mark" and table.per_pupil_ordinals is not None
            else {}
        )
        for src in records:
            plan.items.append(
                _item(
                    src,
                    resolve,
                    lessons,
                    table=table,
                    channels=channels,
                    theirs=theirs,
                    compare=compare,
                    not_carried=sorted(target_skip - source_skip - ruled),
                    defaults=defaults,
                    title=title,
                    not_writable=table.not_writable.get(entity),
                    ordinal=renumber.get(src.id),
                )
            )
    for item in plan.items:
        for e in item.explained:
            plan.reasons.setdefault(e.reason.code, e.reason)
    return plan


def _per_pupil_ordinals(
    records: Sequence[Record],
    resolve: Mapping[str, str | None],
    lessons: Mapping[str, str],
    table: Any,
) -> dict[str, int]:
    """Source mark id → its ordinal on a target that numbers a pupil's marks of one work type
    on one lesson 1, 2 … (the marks the target cannot hold take no number)."""
    slots: dict[tuple[Any, ...], list[tuple[int, str]]] = defaultdict(list)
    for src in records:
        mine, _ = rekey(src, resolve, lessons)
        if mine is None:
            continue
        held, _ = table.translate(mine)
        if held is None:
            continue
        key = (held.student_id, held.lesson_id, held.work_type)
        slots[key].append((held.ordinal, src.id))
    out: dict[str, int] = {}
    for marks in slots.values():
        for n, (_, sid) in enumerate(sorted(marks), start=1):
            out[sid] = n
    return out


def _item(
    src: Record,
    resolve: Mapping[str, str | None],
    lessons: Mapping[str, str],
    *,
    table: Any,
    channels: Sequence[PushChannel],
    theirs: Mapping[str, Record],
    compare: Sequence[str],
    not_carried: Sequence[str],
    defaults: Mapping[str, Any],
    title: str,
    not_writable: Reason | None,
    ordinal: int | None = None,
) -> PlanItem:
    entity = src.ENTITY
    mine, missing = rekey(src, resolve, lessons)
    if mine is None:
        return PlanItem(entity, "blocked", src.id, None, why=missing)
    if not channels:
        reason = not_writable or _no_channel_reason(entity, title)
        return PlanItem(
            entity,
            "not_carried",
            src.id,
            None,
            explained=(Explained(entity, src.id, "", None, DROP, reason),),
        )
    held, explained = table.translate(mine)
    if held is None:
        return PlanItem(entity, "not_carried", src.id, None, explained=tuple(explained))
    if ordinal is not None and ordinal != held.ordinal:
        reason = table.per_pupil_ordinals
        assert reason is not None
        explained.append(Explained(entity, src.id, "ordinal", held.ordinal, ordinal, reason))
        held = held.model_copy(update={"ordinal": ordinal})
    values = held.__dict__
    for name in not_carried:
        if name in defaults and values[name] != defaults[name]:
            reason = not_carried_reason(name, title)
            explained.append(Explained(entity, src.id, name, values[name], None, reason))
    channel = channels[0].value
    current = theirs.get(held.id)
    if current is None:
        return PlanItem(entity, "add", src.id, held, channel, explained=tuple(explained))
    now = current.__dict__
    diffs = tuple(n for n in compare if values[n] != now[n] and values[n] is not None)
    if not diffs:
        return PlanItem(entity, "unchanged", src.id, held, channel, explained=tuple(explained))
    if all(_empty(now[n]) for n in diffs):
        merged = current.model_copy(update={n: values[n] for n in diffs})
        return PlanItem(
            entity, "update", src.id, merged, channel, fields=diffs, explained=tuple(explained)
        )
    return PlanItem(
        entity, "conflict", src.id, held, channel, fields=diffs, explained=tuple(explained)
    )


def group_by_entity(items: Iterable[PlanItem]) -> dict[str, list[PlanItem]]:
    out: dict[str, list[PlanItem]] = defaultdict(list)
    for i in items:
        out[i.entity].append(i)
    return out
