"""Turn a :class:`FrameBuilder`'s string columns into a :class:`JournalFrame`'s arrays.

References become indices through ``dict.get`` mapped over whole columns (C loops, not Python
ones); rows whose lesson or student is unknown are dropped, as a pull with a quarantined parent
would leave them. Entry times are resolved here (see ``_frame``'s docstring).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import orjson

from core.compliance._frame import (
    FIELDS,
    I32,
    I64,
    ChangeEvent,
    FrameBuilder,
    GroupMove,
    JournalFrame,
    PeriodRow,
    ReasonFix,
    _minutes,
    _ordinal,
    codes,
    epoch,
)
from core.model import Record, normalise_class_name

__all__ = ["BASELINE_GRACE", "build_frame", "frame_from_records"]

#: Records first seen within this many seconds of a school's first pull came with that pull.
BASELINE_GRACE = 3600
_VALID_REASONS = {"excused", "ill", "released"}


def _idx(index: Mapping[str, int], values: Sequence[Any]) -> I32:
    return np.fromiter(map(index.get, values, repeat(-1)), dtype=np.int32, count=len(values))


def _times(values: Any) -> I64:
    if isinstance(values, np.ndarray):
        return values.astype(np.int64)
    if len(values) and isinstance(values[0], int | str) and None not in values:
        try:
            return np.array(values, dtype=np.int64)
        except (TypeError, ValueError):
            pass
    return np.fromiter(map(_one_time, values), dtype=np.int64, count=len(values))


def _one_time(v: Any) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.lstrip("-").isdigit():
        return int(v)  # epoch seconds as text (PostgreSQL's CASE is text)
    return epoch(v)


def _ints(values: Sequence[Any], default: int = 0) -> I32:
    return np.fromiter(
        (default if v is None else int(v) for v in values), dtype=np.int32, count=len(values)
    )


def _ids(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(orjson.loads(value))
    return tuple(value or ())


def build_frame(b: FrameBuilder) -> JournalFrame:
    wt_index, mv_index, ac_index = codes()
    f = JournalFrame(school=b.school)
    names = b.col("school", "name")
    f.school_name = names[0] if names else b.school
    years = b.col("academic_year", "start_year")
    f.year = int(years[0]) if years else 0

    f.person_ids = list(b.col("person", "id"))
    f.person_names = [
        _short(last, first, middle)
        for last, first, middle in zip(
            b.col("person", "last_name"),
            b.col("person", "first_name"),
            b.col("person", "middle_name"),
            strict=True,
        )
    ]
    pidx = {p: i for i, p in enumerate(f.person_ids)}

    f.class_ids = list(b.col("class_unit", "id"))
    grades = [int(g) for g in b.col("class_unit", "grade")]
    f.class_names = [
        f"{g}{normalise_class_name(f'{g}{ltr}')[1]}"
        for g, ltr in zip(grades, b.col("class_unit", "letter"), strict=True)
    ]
    f.class_grade = np.array(grades, dtype=np.int32)
    cidx = {c: i for i, c in enumerate(f.class_ids)}

    f.subject_ids = list(b.col("subject", "id"))
    f.subject_names = list(b.col("subject", "name"))
    sidx = {s: i for i, s in enumerate(f.subject_ids)}

    students: list[set[int]] = [set() for _ in f.class_ids]
    for st, cl in zip(
        b.col("enrollment", "student_id"), b.col("enrollment", "class_id"), strict=True
    ):
        if st in pidx and cl in cidx:
            students[cidx[cl]].add(pidx[st])

    f.group_ids = list(b.col("group", "id"))
    gidx = {g: i for i, g in enumerate(f.group_ids)}
    f.group_class = _idx(cidx, b.col("group", "class_id"))
    f.group_subject = _idx(sidx, b.col("group", "subject_id"))
    f.group_subgroup = _ints(b.col("group", "subgroup"))
    teachers = [_ids(t) for t in b.col("group", "teacher_ids")]
    f.group_teacher = np.array([pidx.get(t[0], -1) if t else -1 for t in teachers], dtype=np.int32)
    members_of = [
        tuple(pidx[m] for m in _ids(ms) if m in pidx) for ms in b.col("group", "member_ids")
    ]

    pcols = [b.col("period", n) for n in ("id", "kind", "ordinal", "start", "end", "name")]
    f.periods = sorted(
        (
            PeriodRow(str(i), str(k), int(o), _ordinal(s), _ordinal(e), str(n or ""))
            for i, k, o, s, e, n in zip(*pcols, strict=True)
        ),
        key=lambda p: (p.start, p.end),
    )
    peridx = {p.id: i for i, p in enumerate(f.periods)}

    # -- lessons ---------------------------------------------------------------------------
    lesson_ids = b.col("lesson", "id")
    lidx = {lid: i for i, lid in enumerate(lesson_ids)}
    l_group = _idx(gidx, b.col("lesson", "group_id"))
    f.l_group = l_group
    f.l_day = np.fromiter(map(_ordinal, b.col("lesson", "date")), np.int32, len(lesson_ids))
    f.l_number = _ints(b.col("lesson", "number"))
    f.l_shift = _ints(b.col("lesson", "shift"), 1)
    f.l_teacher = _idx(pidx, b.col("lesson", "teacher_id"))
    f.l_end = np.fromiter(map(_minutes, b.col("lesson", "end_time")), np.int32, len(lesson_ids))
    f.l_has_topic = np.array(
        [v not in (None, False, 0, "0", "") for v in b.col("lesson", "has_topic")], dtype=np.bool_
    ).reshape(-1)

    all_seen = [
        _times(b.col(e, "first_seen")) for e in ("lesson", "homework", "mark", "final_mark")
    ]
    known = [s[s >= 0] for s in all_seen if len(s)]
    seen_any = np.concatenate(known) if known else np.zeros(0, np.int64)
    baseline = int(seen_any.min()) if len(seen_any) else -1
    if b.baseline is not None:
        baseline = b.baseline
    if b.changes:
        first_change = min(epoch(c.at) for c in b.changes)
        baseline = first_change if baseline < 0 else min(baseline, first_change)

    def entry(created: I64, seen: I64) -> I64:
        later = (seen >= 0) & (baseline >= 0) & (seen > baseline + BASELINE_GRACE)
        out: I64 = np.where(created >= 0, created, np.where(later, seen, -1))
        return out

    l_seen = all_seen[0]
    f.l_topic_at = np.where(f.l_has_topic, entry(_times(b.col("lesson", "created_at")), l_seen), -1)

    # -- homework, marks, attendance, finals -------------------------------------------------
    h_lesson = _idx(lidx, b.col("homework", "lesson_id"))
    h_at = entry(_times(b.col("homework", "created_at")), all_seen[1])
    keep = h_lesson >= 0
    f.h_lesson, f.h_at = h_lesson[keep], h_at[keep]

    m_lesson = _idx(lidx, b.col("mark", "lesson_id"))
    m_student = _idx(pidx, b.col("mark", "student_id"))
    m_created = entry(_times(b.col("mark", "created_at")), all_seen[2])
    m_updated = _times(b.col("mark", "updated_at"))
    keep = (m_lesson >= 0) & (m_student >= 0)
    f.m_lesson, f.m_student = m_lesson[keep], m_student[keep]
    f.m_wtype = _idx(wt_index, b.col("mark", "work_type"))[keep]
    f.m_value = _idx(mv_index, b.col("mark", "value")).astype(np.int8)[keep]
    f.m_weight = np.array(b.col("mark", "weight"), dtype=np.float32).reshape(-1)[keep]
    f.m_created = m_created[keep]
    m_updated = m_updated[keep]
    f.m_changed = np.where(m_updated > f.m_created + 60, m_updated, -1)

    a_lesson = _idx(lidx, b.col("attendance", "lesson_id"))
    a_student = _idx(pidx, b.col("attendance", "student_id"))
    keep = (a_lesson >= 0) & (a_student >= 0)
    f.a_lesson, f.a_student = a_lesson[keep], a_student[keep]
    f.a_code = _idx(ac_index, b.col("attendance", "code")).astype(np.int8)[keep]

    _members(f, students, members_of)
    _lesson_teachers(f)

    f_student = _idx(pidx, b.col("final_mark", "student_id"))
    f_subject = _idx(sidx, b.col("final_mark", "subject_id"))
    f_period = _idx(peridx, b.col("final_mark", "period_id"))
    keep = (f_student >= 0) & (f_subject >= 0) & (f_period >= 0)
    f.f_student, f.f_subject, f.f_period = f_student[keep], f_subject[keep], f_period[keep]
    f.f_value = _idx(mv_index, b.col("final_mark", "value")).astype(np.int8)[keep]
    f.f_at = entry(_times(b.col("final_mark", "created_at")), all_seen[3])[keep]

    _apply_changes(b, f, pidx, lidx, gidx)
    return f


def _apply_changes(
    b: FrameBuilder,
    f: JournalFrame,
    pidx: Mapping[str, int],
    lidx: Mapping[str, int],
    gidx: Mapping[str, int],
) -> None:
    f.history = frozenset(b.history)
    mark_key: dict[tuple[int, int, int], int] | None = None
    wt_index = codes()[0]
    for ev in sorted(b.changes, key=lambda e: e.at):
        if ev.kind != "updated" or ev.before is None or ev.after is None:
            continue
        at = epoch(ev.at)
        before, after = ev.before, ev.after
        if ev.entity == "lesson":
            li = lidx.get(str(after.get("id", ev.record_id)), lidx.get(ev.record_id, -1))
            if li >= 0 and not before.get("topic") and after.get("topic"):
                f.l_topic_at[li] = at
        elif ev.entity == "mark" and before.get("value") != after.get("value"):
            if mark_key is None:
                mark_key = {
                    (int(s), int(le), int(w)): i
                    for i, (s, le, w) in enumerate(
                        zip(f.m_student, f.m_lesson, f.m_wtype, strict=True)
                    )
                }
            key = (
                pidx.get(str(after.get("student_id")), -1),
                lidx.get(str(after.get("lesson_id")), -1),
                wt_index.get(str(after.get("work_type")), -1),
            )
            mi = mark_key.get(key)
            if mi is not None:
                f.m_changed[mi] = max(int(f.m_changed[mi]), at)
        elif ev.entity == "attendance":
            if before.get("code") == "absent" and after.get("code") in _VALID_REASONS:
                st = pidx.get(str(after.get("student_id")), -1)
                li = lidx.get(str(after.get("lesson_id")), -1)
                if st >= 0 and li >= 0:
                    f.reason_fixes.append(ReasonFix(st, li, at))
        elif ev.entity == "group":
            gi = gidx.get(ev.record_id, -1)
            if gi < 0 or not after.get("subgroup"):
                continue
            old, new = set(before.get("member_ids") or ()), set(after.get("member_ids") or ())
            for m in sorted(new - old):
                if m in pidx:
                    f.group_moves.append(GroupMove(pidx[m], gi, True, at))
            for m in sorted(old - new):
                if m in pidx:
                    f.group_moves.append(GroupMove(pidx[m], gi, False, at))


def _members(f: JournalFrame, students: list[set[int]], members_of: list[tuple[int, ...]]) -> None:
    """Class and group rosters: enrollments, subgroup lists, and — for platforms without
    enrollments — every student the class's journal shows (a mark or attendance entry)."""
    for gi, ms in enumerate(members_of):
        ci = int(f.group_class[gi])
        if ci >= 0:
            students[ci].update(ms)
    cls_of = f.group_class[f.l_group]
    for st, le in ((f.m_student, f.m_lesson), (f.a_student, f.a_lesson)):
        cls = cls_of[le]
        ok = cls >= 0
        for key in np.unique(cls[ok].astype(np.int64) * (1 << 32) + st[ok]).tolist():
            ci, si = divmod(key, 1 << 32)
            students[ci].add(si)
    f.class_students = [np.array(sorted(s), dtype=np.int32) for s in students]
    f.group_members = []
    for gi, ms in enumerate(members_of):
        if ms:
            f.group_members.append(np.array(sorted(ms), dtype=np.int32))
        else:
            c = int(f.group_class[gi])
            f.group_members.append(f.class_students[c] if c >= 0 else np.zeros(0, np.int32))


def _lesson_teachers(f: JournalFrame) -> None:
    """Groups without a listed teacher (a platform that does not carry them) get the teacher
    who gave most of their lessons."""
    for g in np.flatnonzero(f.group_teacher < 0).tolist():
        taught = f.l_teacher[(f.l_group == g) & (f.l_teacher >= 0)]
        if taught.size:
            f.group_teacher[g] = int(np.bincount(taught).argmax())


def _short(last: str, first: str, middle: str) -> str:
    initials = "".join(f" {n[0]}." for n in (first, middle) if n)
    return f"{last}{initials}"


def frame_from_records(
    school: str,
    records: Iterable[Record],
    *,
    changes: Iterable[ChangeEvent] | None = None,
    history: Iterable[str] = (),
) -> JournalFrame:
    """A frame from canonical records (small worlds, tests, local journals).

    ``changes`` is the change history to take entry times and events from; ``history`` names
    the entities it covers (so a rule knows an empty history means "nothing happened").
    """
    b = FrameBuilder(school)
    rows: dict[str, list[Record]] = {}
    for r in records:
        if r.school == school:
            rows.setdefault(r.ENTITY, []).append(r)
    for entity, recs in rows.items():
        names = FIELDS.get(entity)
        if names is None:
            continue
        b.add(entity, {n: [_field(r, n) for r in recs] for n in names})
    if changes is not None:
        b.changes.extend(changes)
        b.history.update(history)
    return build_frame(b)


def _field(r: Record, name: str) -> Any:
    if name == "id":
        return r.id
    if name == "has_topic":
        return bool(getattr(r, "topic", ""))
    if name in ("created_at", "updated_at"):
        return getattr(r.provenance, name, None) if r.provenance is not None else None
    if name == "first_seen":
        return None
    return getattr(r, name)
