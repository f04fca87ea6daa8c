"""Profiles: one per regulation — which rules apply, the clause each comes from, parameters.

A school's config names its profile by id (``get_profile("kiasuo-gymn2")``); a municipality can
override parameters with a plain dict, ``{rule id: {param: value}}``, plus ``"disable"`` (rule
ids to drop) and the calendar's ``"extra_holidays"`` / ``"extra_workdays"`` (ISO dates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from core.compliance._calendar import ProductionCalendar
from core.compliance._catalogue import REG, RULES
from core.errors import ConfigError

__all__ = ["PROFILES", "Profile", "RuleUse", "get_profile", "profile_ids"]


@dataclass(frozen=True)
class RuleUse:
    """A rule as a profile applies it: the clause of its regulation and its parameters."""

    rule: str
    clause: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The regulation file, when it is not the profile's own.
    file: str = ""


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    regulation: str  # file in regulations/
    platform: str
    uses: tuple[RuleUse, ...]
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    def params(self, rule: str) -> Mapping[str, Any]:
        use = next(u for u in self.uses if u.rule == rule)
        return MappingProxyType({**RULES[rule].defaults, **use.params})

    def citation(self, use: RuleUse) -> str:
        return f"{use.file or self.regulation} п. {use.clause}"

    def calendar(self) -> ProductionCalendar:
        return ProductionCalendar(self.extra_holidays, self.extra_workdays)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        """This profile with a municipality's overrides applied (validated)."""
        disabled = set(overrides.get("disable", ()))
        unknown = disabled - {u.rule for u in self.uses}
        uses: list[RuleUse] = []
        for u in self.uses:
            if u.rule in disabled:
                continue
            extra = overrides.get(u.rule)
            if extra is not None:
                if not isinstance(extra, Mapping):
                    raise ConfigError(f"compliance override for {u.rule} must be a table")
                bad = set(extra) - set(RULES[u.rule].defaults)
                if bad:
                    raise ConfigError(
                        f"unknown parameter(s) {sorted(bad)} for rule {u.rule}; "
                        f"known: {sorted(RULES[u.rule].defaults)}"
                    )
                u = replace(u, params={**u.params, **extra})
            uses.append(u)
        skip = {"disable", "extra_holidays", "extra_workdays"}
        unknown |= {k for k in overrides if k not in skip and k not in RULES}
        unknown |= {k for k in overrides if k in RULES and k not in {u.rule for u in self.uses}}
        if unknown:
            raise ConfigError(
                f"compliance overrides name rules not in profile {self.id}: {sorted(unknown)}"
            )
        return replace(
            self,
            uses=tuple(uses),
            extra_holidays=self.extra_holidays
            + tuple(date.fromisoformat(str(d)) for d in overrides.get("extra_holidays", ())),
            extra_workdays=self.extra_workdays
            + tuple(date.fromisoformat(str(d)) for d in overrides.get("extra_workdays", ())),
        )


def _u(rule: str, clause: str, **params: Any) -> RuleUse:
    return RuleUse(rule, clause, params)


_BY_SHIFT = {"by": "time", "time": {"1": "15:00", "2": "20:00"}}
_NEXT_NOON = {"by": "time", "time": "12:00", "day_offset": 1}

_PROFILES = (
    Profile(
        id="kiasuo-gymn2",
        title="МАОУ Гимназия № 2 (Красноярск), ГИС ЭЖД КИАСУО — положение от 09.01.2024",
        regulation=REG["kiasuo"],
        platform="kiasuo",
        uses=(
            _u("marks.accumulation", "5.2"),
            _u("grade1.no_marks", "3.7, 4.4.5"),
            _u("marks.work_type", "4.4.4"),
            _u("lessons.topic_deadline", "4.4.6", deadline=_BY_SHIFT),
            _u("homework.deadline", "4.4.6", deadline=_BY_SHIFT),
            _u("finals.deadline", "5.3", days_before=2),
            _u("groups.subgroup_moves", "4.4.11"),
            _u("lessons.curriculum_hours", "4.4.8"),
        ),
    ),
    Profile(
        id="perm-skshi",
        title="МБОУ «СКШИ VIII вида» (Пермский край), ЭПОС",
        regulation=REG["perm"],
        platform="perm",
        uses=(
            _u("grade1.no_marks", "1.4"),
            _u("marks.none_or_single", "3.7"),
            _u(
                "lessons.topic_deadline",
                "3.5",
                deadline={"by": "after_classes", "hours": 1, "fallback": "23:59"},
            ),
            _u(
                "homework.deadline",
                "3.5",
                deadline={"by": "after_classes", "hours": 1, "fallback": "23:59"},
            ),
            _u("marks.written_deadline", "3.5", days=7),
            _u("finals.deadline", "3.5", days_before=0, window_days=7),
        ),
    ),
    Profile(
        id="netschool-sosh63",
        title="МБОУ «СОШ № 63» (Алтайский край), АИС «Сетевой регион. Образование» — порядок 2023",
        regulation=REG["netschool"],
        platform="netschool",
        uses=(
            _u("lessons.topic_deadline", "7.4", deadline={"by": "time", "time": "23:59"}),
            _u(
                "homework.deadline",
                "7.4",
                deadline={"by": "after_classes", "hours": 3, "fallback": "23:59"},
            ),
            _u("marks.written_deadline", "7.4", days=7),
            _u("marks.retroactive", "7.6", deadline={"by": "time", "time": "23:59"}, edit_days=7),
            _u("marks.work_type", "2.3"),
            _u("finals.deadline", "7.7, 7.10", days_before=0, window_days=7),
            _u("attendance.reason_fix", "7.3", working_days=2),
            _u("lessons.curriculum_hours", "5.6"),
        ),
    ),
    Profile(
        id="ruobr-school106",
        title="МКОУ «Специальная школа № 106» (Новокузнецк), АИС «Электронная школа 2.0»",
        regulation=REG["ruobr"],
        platform="ruobr",
        uses=(
            _u("grade1.no_marks", "2.9"),
            _u("lessons.topic_deadline", "3.4.1", deadline={"by": "time", "time": "19:00"}),
            _u("homework.deadline", "3.4.1, 3.4.3", deadline={"by": "time", "time": "19:00"}),
            _u("finals.deadline", "3.4.4", days_before=0),
        ),
    ),
    Profile(
        id="avers-gymn24",
        title="МАОУ гимназия № 24 (Ставрополь), ЭЖ АИС «Аверс» — инструкция от 30.08.2023",
        regulation=REG["avers"],
        platform="avers",
        uses=(
            _u("marks.frequency", "4.2.4", lessons_per_mark=4),
            _u("marks.none_or_single", "3.5"),
            _u("lessons.topic_deadline", "4.2.4", deadline=_NEXT_NOON),
            _u("homework.deadline", "4.2.4", deadline=_NEXT_NOON),
            _u("marks.retroactive", "4.2.4", deadline=_NEXT_NOON, edit_days=1),
            _u("marks.work_type", "4.2.4"),
            _u("finals.deadline", "4.2.4", days_before=0),
        ),
    ),
)

#: Every rule at its defaults, each citing its first source: a municipal audit, the benchmark.
ALL = Profile(
    id="all",
    title="Все правила (параметры по умолчанию)",
    regulation="",
    platform="",
    uses=tuple(
        RuleUse(r.id, f"{r.sources[0].clause}", {}, r.sources[0].file) for r in RULES.values()
    ),
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.id: p for p in (*_PROFILES, ALL)})


def profile_ids() -> tuple[str, ...]:
    return tuple(PROFILES)


def get_profile(profile_id: str, overrides: Mapping[str, Any] | None = None) -> Profile:
    """A profile by id, with a municipality's parameter overrides applied."""
    try:
        profile = PROFILES[profile_id]
    except KeyError:
        raise ConfigError(
            f"unknown compliance profile {profile_id!r}; known: {', '.join(PROFILES)}"
        ) from None
    return profile.with_overrides(overrides) if overrides else profile
