"""Run a profile's rules over one school's frame and say what could not be checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.compliance._catalogue import RULES
from core.compliance._frame import JournalFrame
from core.compliance._profiles import Profile, RuleUse
from core.compliance._rule import Context, Emit, Rule
from core.compliance._types import Finding, NotChecked
from core.connector import Capabilities, EntryTimeKind

__all__ = ["ComplianceResult", "check_frame"]

_ENTITY_RU = {
    "mark": "отметки",
    "lesson": "уроки",
    "homework": "домашние задания",
    "attendance": "посещаемость",
    "final_mark": "итоговые отметки",
    "group": "группы",
    "class_unit": "классы",
    "period": "учебные периоды",
}
_HISTORY_RU = {
    "attendance": "изменений отметок посещаемости",
    "group": "изменений состава подгрупп",
}


@dataclass(frozen=True)
class ComplianceResult:
    """The findings of one profile over one school's data from one source."""

    school: str
    school_name: str
    platform: str
    profile: str
    as_of: datetime
    checked: tuple[str, ...]
    findings: tuple[Finding, ...]
    not_checked: tuple[NotChecked, ...]

    def by_rule(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {rule: [] for rule in self.checked}
        for f in self.findings:
            out.setdefault(f.rule, []).append(f)
        return out


def _adapt(
    rule: Rule, params: Mapping[str, Any], caps: Capabilities | None
) -> tuple[Mapping[str, Any], list[str]]:
    """Loosen a deadline the platform cannot place exactly, saying so (never a false finding):
    no lesson shift → the latest shift's time; no lesson end time → the fallback time."""
    spec = params.get("deadline")
    lost = caps.fields_not_carried.get("lesson", frozenset()) if caps is not None else frozenset()
    if not isinstance(spec, Mapping) or not lost:
        return params, []
    name = caps.platform if caps is not None else ""
    times = spec.get("time")
    if isinstance(times, Mapping) and "shift" in lost:
        latest = max(str(t) for t in times.values())
        note = f"платформа {name} не передаёт смену урока: срок {latest} для всех уроков"
        return {**params, "deadline": {**spec, "time": latest}}, [note]
    if spec.get("by") == "after_shift" and "shift" in lost and "end_time" not in lost:
        note = (
            f"платформа {name} не передаёт смену урока: срок отсчитывается от последнего урока "
            "школы в этот день"
        )
        return params, [note]
    if spec.get("by") in ("after_classes", "after_shift") and "end_time" in lost:
        fallback = str(spec.get("fallback", "23:59"))
        note = f"платформа {name} не передаёт время окончания уроков: срок — {fallback} дня урока"
        return {**params, "deadline": {"by": "time", "time": fallback}}, [note]
    return params, []


def _unavailable(
    rule: Rule, params: Mapping[str, object], caps: Capabilities | None, frame: JournalFrame
) -> str | None:
    if caps is not None:
        for entity, fields in sorted(rule.needs.items()):
            what = _ENTITY_RU.get(entity, entity)
            if entity not in caps.reads and entity not in ("class_unit", "period"):
                return f"платформа {caps.platform} не передаёт записи «{what}»"
            lost = sorted(fields & caps.fields_not_carried.get(entity, frozenset()))
            if lost:
                return (
                    f"платформа {caps.platform} не передаёт поле {', '.join(lost)} записей «{what}»"
                )
    missing = sorted(rule.history - frame.history)
    if missing:
        names = ", ".join(_HISTORY_RU.get(m, m) for m in missing)
        return (
            f"нет истории {names}: её накапливает синхронизация после первой загрузки, "
            "а для этого источника она недоступна"
        )
    return None


#: The frame's entry-time columns of each timed entity.
_TIME_COLUMNS = {
    "lesson": ("l_topic_at",),
    "homework": ("h_at",),
    "mark": ("m_created", "m_changed"),
    "final_mark": ("f_at",),
}


def _untimed(caps: Capabilities | None) -> dict[str, str]:
    """Entities whose entry times the platform cannot observe → why (Russian)."""
    if caps is None:
        return {}
    return {
        entity: f"платформа {caps.platform}: {et.note_ru or et.note}"
        for entity, et in caps.entry_time.items()
        if not et.observable
    }


def _blank_times(frame: JournalFrame, untimed: Mapping[str, str]) -> JournalFrame:
    """The frame with unobservable entry times set to "unknown" (-1): a time the platform
    reports only later (e.g. finals shown once a period is closed) must not read as late."""
    names = [n for entity in untimed for n in _TIME_COLUMNS.get(entity, ())]
    if not names:
        return frame
    out = replace(frame)
    for name in names:
        setattr(out, name, np.full(len(getattr(frame, name)), -1, dtype=np.int64))
    return out


def _first_seen_notes(rule: Rule, caps: Capabilities | None) -> list[str]:
    if caps is None:
        return []
    out = []
    for entity in sorted(rule.times):
        et = caps.entry_time.get(entity)
        if et is not None and et.kind is EntryTimeKind.FIRST_SEEN and et.note_ru:
            out.append(f"платформа {caps.platform}: {et.note_ru}")
    return out


def check_frame(
    frame: JournalFrame,
    profile: Profile,
    *,
    as_of: datetime,
    platform: str = "local",
    capabilities: Capabilities | None = None,
    timezone: str = "Europe/Moscow",
    curriculum: Mapping[tuple[int, str], float] | None = None,
) -> ComplianceResult:
    """Every rule of ``profile`` over ``frame``, as of ``as_of`` (an aware datetime).

    ``capabilities`` (the connector's) turns rules that need a field the platform cannot carry
    into :class:`NotChecked` entries instead of false findings.
    """
    offset = ZoneInfo(timezone).utcoffset(as_of.replace(tzinfo=None))
    tz_offset = int(offset.total_seconds()) if offset is not None else 0
    findings: list[Finding] = []
    skipped: list[NotChecked] = []
    checked: list[str] = []
    untimed = _untimed(capabilities)
    frame = _blank_times(frame, untimed)
    for use in profile.uses:
        rule = RULES[use.rule]
        params = profile.params(use.rule)
        reason = _unavailable(rule, params, capabilities, frame)
        if reason is not None:
            skipped.append(NotChecked(rule.id, frame.school, platform, reason))
            continue
        params, loosened = _adapt(rule, params, capabilities)
        partial = _partial(rule, capabilities) + loosened + _first_seen_notes(rule, capabilities)
        ctx = Context(
            as_of=as_of,
            calendar=profile.calendar(),
            tz_offset=tz_offset,
            curriculum=curriculum or {},
            notes=partial,
            untimed={e: why for e, why in untimed.items() if e in rule.times},
        )
        emit = Emit(frame, rule.id, rule.severity, _cite(profile, use))
        rule.check(frame, ctx, params, emit)
        if ctx.skipped is not None:
            skipped.append(NotChecked(rule.id, frame.school, platform, ctx.skipped))
            continue
        checked.append(rule.id)
        findings.extend(emit.findings)
        skipped.extend(
            NotChecked(rule.id, frame.school, platform, f"частично: {n}") for n in ctx.notes
        )
    return ComplianceResult(
        school=frame.school,
        school_name=frame.school_name,
        platform=platform,
        profile=profile.id,
        as_of=as_of,
        checked=tuple(checked),
        findings=tuple(sorted(findings, key=_order)),
        not_checked=tuple(skipped),
    )


#: Entities whose records a family-account view shows only in part.
_FAMILY_PARTIAL = frozenset({"mark", "attendance", "final_mark", "group"})


def _partial(rule: Rule, caps: Capabilities | None) -> list[str]:
    if caps is None:
        return []
    out = [
        f"платформа {caps.platform}: {why}"
        for entity, why in sorted(rule.partial.items())
        if entity not in caps.reads
    ]
    if caps.partial_view and (set(rule.needs) | rule.history) & _FAMILY_PARTIAL:
        out.append(f"платформа {caps.platform}: {caps.partial_view}")
    return out


def _cite(profile: Profile, use: RuleUse) -> str:
    return profile.citation(use)


def _order(f: Finding) -> tuple[str, str, str, str, str, int]:
    return (
        f.rule,
        f.class_name,
        f.subject,
        f.student,
        f.teacher,
        f.day.toordinal() if f.day else 0,
    )
