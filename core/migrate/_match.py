"""Who is who on two bindings of one school: identity matching per entity (issue 15, item 2).

Records whose natural key has no platform part — the academic year, periods, classes, subjects,
groups — get the same canonical id on both bindings when they agree, so they match by id
(``same_key``). A person's key is ``platform:id``, so the same pupil has unrelated ids on each
side; persons are matched in tiers, the best tier first:

1. ``external_id`` — an identifier both sides hold for the same person. The connectors' external
   ids are the platform's own (``userId``, ``profile_id`` …) and mean nothing on another
   platform, so only nation-wide ones (:data:`GLOBAL_ID_KEYS`: СНИЛС, the ЕСИА id) count across
   platforms; between two bindings on one platform every external id does.
2. ``name_birth_class`` — the normalised full name (case, spaces, «ё» → «е»), the birth date and
   the class (from enrollments) all agree.
3. ``name_class`` — name and class agree (one side often has no birth date: only some platforms
   show it; differing birth dates rule a candidate out).
4. ``name`` — the name alone, with a lower confidence, only when one candidate is left. Staff
   match by name and role.

More than one candidate at the best tier that has any is *ambiguous* and is never picked; a
target already taken by a better match is not offered again; a target two sources want at the
same tier is ambiguous for both. The operator's decisions (:class:`Decision`: accept, choose a
target, reject) come first, then the saved matches of an earlier run (``previous``), then the
tiers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.codes import Role
from core.model import (
    Attendance,
    ClassUnit,
    Enrollment,
    Group,
    Lesson,
    Mark,
    Person,
    Record,
)

__all__ = [
    "CONFIDENCE",
    "DECISION_ACTIONS",
    "GLOBAL_ID_KEYS",
    "MATCH_ENTITIES",
    "MATCH_RULES",
    "MATCH_STATES",
    "Decision",
    "Match",
    "MatchSet",
    "match_identities",
    "normalise_name",
    "person_classes",
    "person_kind",
]

MATCH_ENTITIES = ("academic_year", "period", "class_unit", "subject", "group", "person")
MATCH_RULES = ("same_key", "external_id", "name_birth_class", "name_class", "name", "operator", "")
MATCH_STATES = ("matched", "ambiguous", "unmatched", "rejected")
DECISION_ACTIONS = ("accept", "choose", "reject")

#: External ids that name the same person on every platform (when a connector has them).
GLOBAL_ID_KEYS = ("snils", "esia_id", "esia")

#: The confidence each rule gives a match (``name`` for pupils; staff by name and role: 0.9).
CONFIDENCE = {
    "same_key": 1.0,
    "operator": 1.0,
    "external_id": 1.0,
    "name_birth_class": 0.99,
    "name_class": 0.95,
    "name": 0.6,
}
#: A name known by initials only on one side («Иванова А. П.», as АВЕРС shows pupils) is
#: compared by surname and initials, at this share of the rule's confidence.
INITIALS_FACTOR = 0.95
_STAFF_NAME = 0.9  # staff by full name and role
_GUARDIAN_NAME = 0.9  # a unique full name among guardians (namesakes stay ambiguous)


@dataclass(frozen=True, slots=True)
class Match:
    entity: str
    #: The canonical record id on the source binding.
    source_id: str
    #: ``None`` when unmatched or rejected.
    target_id: str | None
    #: "same_key" | "external_id" | "name_birth_class" | "name_class" | "name" | "operator" | "".
    rule: str
    #: 0..1.
    confidence: float
    #: "matched" | "ambiguous" | "unmatched" | "rejected".
    state: str
    #: The target ids offered when ambiguous.
    candidates: tuple[str, ...] = ()
    #: Who decided it, when an operator did (empty: matched by the rules).
    decided_by: str = ""
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The operator's word on one source record: accept the proposed target, choose one, or
    reject (the record has no counterpart; it is added or left alone, never matched)."""

    action: str  # "accept" | "choose" | "reject"
    target_id: str | None = None
    decided_by: str = ""
    decided_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.action not in DECISION_ACTIONS:
            raise ValueError(f"unknown decision {self.action!r}; one of {DECISION_ACTIONS}")
        if self.action == "choose" and not self.target_id:
            raise ValueError("a choice names its target id")


@dataclass(frozen=True, slots=True)
class MatchSet:
    matches: tuple[Match, ...] = ()
    _by_key: dict[tuple[str, str], Match] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_key.update({(m.entity, m.source_id): m for m in self.matches})

    def id_map(self) -> dict[str, str]:
        """Matched only: source id → target id."""
        return {
            m.source_id: m.target_id
            for m in self.matches
            if m.state == "matched" and m.target_id is not None
        }

    def pending(self) -> tuple[Match, ...]:
        """Ambiguous and unmatched: what the operator has to look at."""
        return tuple(m for m in self.matches if m.state in ("ambiguous", "unmatched"))

    def counts(self) -> dict[str, dict[str, int]]:
        """entity → state → n."""
        out: dict[str, dict[str, int]] = {}
        for m in self.matches:
            per = out.setdefault(m.entity, {})
            per[m.state] = per.get(m.state, 0) + 1
        return out

    def get(self, entity: str, source_id: str) -> Match | None:
        return self._by_key.get((entity, source_id))

    def __len__(self) -> int:
        return len(self.matches)


# -- helpers --------------------------------------------------------------------------------------


def normalise_name(*parts: str) -> str:
    """«Ёлкина  анна» → «елкина анна»: lower case, one space, «ё» → «е»."""
    text = " ".join(p for p in parts if p)
    return " ".join(text.lower().replace("ё", "е").split())


def person_kind(person: Person) -> str:
    """``student``, ``staff`` or ``guardian`` (persons only match within their kind)."""
    if Role.STUDENT in person.roles:
        return "student"
    if Role.TEACHER in person.roles:
        return "staff"
    return "guardian"


@dataclass(slots=True)
class _Side:
    """One binding's records, indexed for matching."""

    by_entity: dict[str, dict[str, Record]] = field(default_factory=dict)
    classes: dict[str, frozenset[str]] = field(default_factory=dict)  # person id → class names

    @classmethod
    def of(cls, records: Iterable[Record]) -> _Side:
        side = cls({e: {} for e in MATCH_ENTITIES})
        records = list(records)
        for r in records:
            if r.ENTITY in side.by_entity:
                side.by_entity[r.ENTITY][r.id] = r
        side.classes = person_classes(records)
        return side


def person_classes(records: Iterable[Record]) -> dict[str, frozenset[str]]:
    """Each pupil's class names («5А»): from enrollments (not those that left); for a pupil
    without one (NetSchool shows none), from the class whose lessons hold the pupil's marks
    and attendance, or whose subgroups list the pupil."""
    units: dict[str, ClassUnit] = {}
    group_class: dict[str, str] = {}
    lesson_group: dict[str, str] = {}
    enrolled: dict[str, set[str]] = defaultdict(set)
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    touches: list[tuple[str, str]] = []  # (student id, lesson id)
    for r in records:
        if isinstance(r, ClassUnit):
            units[r.id] = r
        elif isinstance(r, Group):
            group_class[r.id] = r.class_id
            for member in r.member_ids:
                seen[member][r.class_id] += 1
        elif isinstance(r, Lesson):
            lesson_group[r.id] = r.group_id
        elif isinstance(r, Enrollment):
            if r.movement.value != "left":
                enrolled[r.student_id].add(r.class_id)
        elif isinstance(r, Mark | Attendance):
            touches.append((r.student_id, r.lesson_id))
    for student, lesson in touches:
        cid = group_class.get(lesson_group.get(lesson, ""))
        if student not in enrolled and cid is not None:
            seen[student][cid] += 1
    out: dict[str, frozenset[str]] = {}
    for student, cids in enrolled.items():
        out[student] = frozenset(units[c].name for c in cids if c in units)
    for student, counts in seen.items():
        if student in enrolled or not counts:
            continue
        top = max(counts.values())
        out[student] = frozenset(
            units[c].name for c, n in counts.items() if n == top and c in units
        )
    return out


def _bare(part: str) -> str:
    return normalise_name(part).strip(". ")


def _abbreviated(p: Person) -> bool:
    """First or middle name written as an initial («Е», «Е.»)."""
    return len(_bare(p.first_name)) <= 1 or (bool(p.middle_name) and len(_bare(p.middle_name)) <= 1)


def _initials_key(p: Person) -> tuple[str, ...]:
    return (
        person_kind(p),
        normalise_name(p.last_name),
        _bare(p.first_name)[:1],
        _bare(p.middle_name)[:1],
    )


def _births_differ(a: Person, b: Person) -> bool:
    return a.birth_date is not None and b.birth_date is not None and a.birth_date != b.birth_date


class _PersonIndex:
    def __init__(self, side: _Side) -> None:
        self.side = side
        self.by_name: dict[tuple[str, str], list[Person]] = defaultdict(list)
        self.by_global: dict[tuple[str, str], list[Person]] = defaultdict(list)
        self.by_initials: dict[tuple[str, ...], list[Person]] = defaultdict(list)
        #: (platform, key, value): a platform's own ids, meaningful on that platform only.
        self.by_local: dict[tuple[str, str, str], list[Person]] = defaultdict(list)
        for rec in side.by_entity["person"].values():
            if not isinstance(rec, Person):
                continue
            name = normalise_name(rec.last_name, rec.first_name, rec.middle_name)
            self.by_name[(person_kind(rec), name)].append(rec)
            self.by_initials[_initials_key(rec)].append(rec)
            if rec.provenance is not None:
                for k, v in rec.provenance.external_ids.items():
                    self.by_local[(rec.provenance.platform, k, v)].append(rec)
                    if k in GLOBAL_ID_KEYS and v:
                        self.by_global[(k, v)].append(rec)

    def candidates(self, rule: str, p: Person, p_classes: frozenset[str]) -> list[str]:
        kind = person_kind(p)
        if rule == "external_id":
            prov = p.provenance
            if prov is None:
                return []
            out: dict[str, None] = {}
            for k in GLOBAL_ID_KEYS:
                if v := prov.external_ids.get(k):
                    for t in self.by_global.get((k, v), ()):
                        if person_kind(t) == kind:
                            out[t.id] = None
            if not out:  # same platform on both sides: its own ids mean the same person
                for k, v in prov.external_ids.items():
                    for t in self.by_local.get((prov.platform, k, v), ()):
                        if person_kind(t) == kind:
                            out[t.id] = None
            return list(out)
        if _abbreviated(p):
            pool = list(self.by_initials.get(_initials_key(p), ()))
        else:
            name = normalise_name(p.last_name, p.first_name, p.middle_name)
            pool = list(self.by_name.get((kind, name), ()))
            pool += [t for t in self.by_initials.get(_initials_key(p), ()) if _abbreviated(t)]
        pool = [t for t in pool if not _births_differ(p, t)]
        if kind != "student":
            if rule != "name":
                return []
            roles = set(p.roles)
            same_role = [t for t in pool if roles & set(t.roles)]
            return [t.id for t in same_role or pool]
        if rule == "name":
            return [t.id for t in pool]
        in_class = [t for t in pool if p_classes & self.side.classes.get(t.id, frozenset())]
        if rule == "name_class":
            return [t.id for t in in_class]
        # name_birth_class
        return [t.id for t in in_class if p.birth_date is not None and t.birth_date is not None]


_PERSON_RULES = ("external_id", "name_birth_class", "name_class", "name")


def _confidence(rule: str, rec: Record, target: Record | None = None) -> float:
    value = CONFIDENCE.get(rule, 0.0)
    if rule == "name" and isinstance(rec, Person):
        kind = person_kind(rec)
        if kind == "staff":
            value = _STAFF_NAME
        elif kind == "guardian":
            value = _GUARDIAN_NAME
    if (
        rule in ("name_birth_class", "name_class", "name")
        and isinstance(rec, Person)
        and (_abbreviated(rec) or (isinstance(target, Person) and _abbreviated(target)))
    ):
        value = round(value * INITIALS_FACTOR, 4)
    return value


# -- the matcher ----------------------------------------------------------------------------------


def match_identities(
    source: Iterable[Record],
    target: Iterable[Record],
    *,
    decisions: Mapping[tuple[str, str], Decision] | None = None,
    previous: MatchSet | None = None,
) -> MatchSet:
    """Match every source record of :data:`MATCH_ENTITIES` to the target binding's records.

    ``decisions``: the operator's, by (entity, source id) — applied first; a choice or an
    acceptance naming a target the target side does not hold raises ``ValueError``.
    ``previous``: the saved matches of an earlier run — its operator decisions and its matches
    whose both records still exist are kept.
    """
    src, tgt = _Side.of(source), _Side.of(target)
    people = _PersonIndex(tgt)
    decisions = dict(decisions or {})
    if previous is not None:
        for m in previous.matches:
            if m.decided_by and (m.entity, m.source_id) not in decisions:
                if m.state == "rejected":
                    decisions[(m.entity, m.source_id)] = Decision(
                        "reject", decided_by=m.decided_by, decided_at=m.decided_at
                    )
                elif m.state == "matched" and m.target_id is not None:
                    decisions[(m.entity, m.source_id)] = Decision(
                        "choose", m.target_id, decided_by=m.decided_by, decided_at=m.decided_at
                    )
    out: list[Match] = []
    mapped: dict[str, str] = {}
    for entity in MATCH_ENTITIES:
        found = _match_entity(entity, src, tgt, people, decisions, previous, mapped)
        mapped.update((m.source_id, m.target_id) for m in found if m.target_id is not None)
        out.extend(found)
    return MatchSet(tuple(out))


def _match_entity(
    entity: str,
    src: _Side,
    tgt: _Side,
    people: _PersonIndex,
    decisions: Mapping[tuple[str, str], Decision],
    previous: MatchSet | None,
    mapped: Mapping[str, str],
) -> list[Match]:
    sources = src.by_entity[entity]
    targets = tgt.by_entity[entity]
    done: dict[str, Match] = {}
    claimed: set[str] = set()

    # 1. The operator's decisions.
    auto_accept: dict[str, Decision] = {}
    for sid in sources:
        d = decisions.get((entity, sid))
        if d is None:
            continue
        if d.action == "reject":
            done[sid] = Match(
                entity, sid, None, "operator", 1.0, "rejected", (), d.decided_by, d.decided_at
            )
            continue
        if d.target_id is None:  # "accept" without a target: whatever the rules match
            auto_accept[sid] = d
            continue
        if d.target_id not in targets:
            raise ValueError(
                f"{entity} {sid}: the chosen target {d.target_id} is not on the target binding"
            )
        if d.target_id in claimed:
            raise ValueError(f"{entity} {d.target_id}: chosen for two source records")
        claimed.add(d.target_id)
        done[sid] = Match(
            entity, sid, d.target_id, "operator", 1.0, "matched", (), d.decided_by, d.decided_at
        )

    # 2. An earlier run's matches whose records both still exist.
    if previous is not None:
        for sid in sources:
            m = previous.get(entity, sid)
            if (
                sid not in done
                and m is not None
                and m.state == "matched"
                and m.target_id in targets
                and m.target_id not in claimed
            ):
                assert m.target_id is not None
                claimed.add(m.target_id)
                done[sid] = replace(m, candidates=())

    # 3. The same canonical id.
    for sid in sources:
        if sid not in done and sid in targets and sid not in claimed:
            claimed.add(sid)
            done[sid] = Match(entity, sid, sid, "same_key", 1.0, "matched")

    # 4. Per-entity fallbacks.
    rest = [sid for sid in sources if sid not in done]
    if entity == "person":
        _tiers(entity, rest, src, people, claimed, done)
    elif entity == "subject":
        _by_text(entity, rest, sources, targets, claimed, done)
    elif entity == "group":
        _groups(rest, src, tgt, done, claimed, mapped)
    for sid in sources:
        if sid not in done:
            done[sid] = Match(entity, sid, None, "", 0.0, "unmatched")

    # The operator's plain "accept" confirms a match the rules made.
    for sid, d in auto_accept.items():
        m = done[sid]
        if m.state == "matched":
            done[sid] = replace(m, decided_by=d.decided_by, decided_at=d.decided_at)
    return [done[sid] for sid in sources]


def _tiers(
    entity: str,
    rest: list[str],
    src: _Side,
    people: _PersonIndex,
    claimed: set[str],
    done: dict[str, Match],
) -> None:
    left = list(rest)
    for rule in _PERSON_RULES:
        proposals: dict[str, list[str]] = {}
        for sid in left:
            p = src.by_entity["person"][sid]
            assert isinstance(p, Person)
            cands = people.candidates(rule, p, src.classes.get(sid, frozenset()))
            cands = [c for c in cands if c not in claimed]
            if cands:
                proposals[sid] = cands
        wanted: dict[str, int] = defaultdict(int)
        for cands in proposals.values():
            for c in cands:
                wanted[c] += 1
        for sid, cands in proposals.items():
            rec = src.by_entity["person"][sid]
            if len(cands) == 1 and wanted[cands[0]] == 1:
                chosen = people.side.by_entity["person"].get(cands[0])
                confidence = _confidence(rule, rec, chosen)
                done[sid] = Match(entity, sid, cands[0], rule, confidence, "matched")
                claimed.add(cands[0])
            else:
                done[sid] = Match(
                    entity, sid, None, rule, _confidence(rule, rec), "ambiguous", tuple(cands)
                )
        left = [sid for sid in left if sid not in proposals]


def _subject_text(r: Record) -> str:
    return normalise_name(str(getattr(r, "name", "")))


def _by_text(
    entity: str,
    rest: list[str],
    sources: Mapping[str, Record],
    targets: Mapping[str, Record],
    claimed: set[str],
    done: dict[str, Match],
) -> None:
    text = _subject_text
    index: dict[str, list[str]] = defaultdict(list)
    for tid, t in targets.items():
        if tid not in claimed:
            index[text(t)].append(tid)
    for sid in rest:
        cands = index.get(text(sources[sid]), [])
        cands = [c for c in cands if c not in claimed]
        if len(cands) == 1:
            claimed.add(cands[0])
            done[sid] = Match(entity, sid, cands[0], "name", 0.9, "matched")
        elif cands:
            done[sid] = Match(entity, sid, None, "name", 0.9, "ambiguous", tuple(cands))


def _groups(
    rest: list[str],
    src: _Side,
    tgt: _Side,
    done: dict[str, Match],
    claimed: set[str],
    mapped: Mapping[str, str],
) -> None:
    """A group whose class or subject matched under another id: the target's group of the
    mapped class and subject with the same subgroup."""
    index: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    for tid, t in tgt.by_entity["group"].items():
        if tid not in claimed and isinstance(t, Group):
            index[(t.class_id, t.subject_id, t.subgroup)].append(tid)
    for sid in rest:
        g = src.by_entity["group"][sid]
        assert isinstance(g, Group)
        key = (
            mapped.get(g.class_id, g.class_id),
            mapped.get(g.subject_id, g.subject_id),
            g.subgroup,
        )
        cands = [c for c in index.get(key, []) if c not in claimed]
        if len(cands) == 1:
            claimed.add(cands[0])
            done[sid] = Match("group", sid, cands[0], "name", 0.9, "matched")
        elif cands:
            done[sid] = Match("group", sid, None, "name", 0.9, "ambiguous", tuple(cands))
