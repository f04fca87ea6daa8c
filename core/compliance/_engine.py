"""Run a profile's rules over one school's frame and say what could not be checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.compliance._catalogue import RULES
from core.compliance._frame import JournalFrame
from core.compliance._profiles import Profile, RuleUse
from core.compliance._rule import Context, Emit, Rule
from core.compliance._types import Finding, NotChecked
from core.connector import Capabilities

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
    if spec.get("by") == "after_classes" and "end_time" in lost:
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
    for use in profile.uses:
        rule = RULES[use.rule]
        params = profile.params(use.rule)
        reason = _unavailable(rule, params, capabilities, frame)
        if reason is not None:
            skipped.append(NotChecked(rule.id, frame.school, platform, reason))
            continue
        params, loosened = _adapt(rule, params, capabilities)
        partial = _partial(rule, capabilities) + loosened
        ctx = Context(
            as_of=as_of,
            calendar=profile.calendar(),
            tz_offset=tz_offset,
            curriculum=curriculum or {},
            notes=partial,
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


def _partial(rule: Rule, caps: Capabilities | None) -> list[str]:
    if caps is None:
        return []
    return [
        f"платформа {caps.platform}: {why}"
        for entity, why in sorted(rule.partial.items())
        if entity not in caps.reads
    ]


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
