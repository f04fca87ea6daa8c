"""Profiles: one per regulation — which rules apply, the clause each comes from, parameters.

Profiles are keyed by the regulation (the school that wrote it), never by a platform: a school's
config names its profile by id (``get_profile("gymn2-krasnoyarsk")``; the former platform-named
ids, :data:`FORMER_IDS`, still work). Which profile a school gets is its config's choice
(``compliance_profile``), else ``all``. A municipality can override parameters with a plain
dict, ``{rule id: {param: value}}``, plus ``"disable"`` (rule ids to drop) and the calendar's
``"extra_holidays"`` / ``"extra_workdays"`` (ISO dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from core.compliance._calendar import ProductionCalendar
from core.compliance._catalogue import REG, RULES
from core.errors import ConfigError

__all__ = [
    "FORMER_IDS",
    "PROFILES",
    "Profile",
    "RuleUse",
    "explain_rows",
    "get_profile",
    "profile_ids",
    "show_value",
]


@dataclass(frozen=True)
class RuleUse:
    """A rule as a profile applies it: the clause of its regulation, its parameters, and where
    each parameter comes from (the clause's own words; a parameter not listed is the school's
    choice at its default)."""

    rule: str
    clause: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The regulation file, when it is not the profile's own.
    file: str = ""
    #: Parameter → the words of the clause that set it.
    sources: Mapping[str, str] = field(default_factory=dict)


def show_value(value: Any) -> str:
    """A parameter value as a person reads it (deadline specs in words)."""
    if isinstance(value, Mapping) and "by" in value:
        if value["by"] == "time":
            times = value.get("time", "23:59")
            when = (
                ", ".join(f"{k} смена {v}" for k, v in sorted(times.items()))
                if isinstance(times, Mapping)
                else str(times)
            )
            day = int(value.get("day_offset", 0))
            return f"{when}{' следующего дня' if day == 1 else ' дня урока' if day == 0 else ''}"
        what = "окончания смены" if value["by"] == "after_shift" else "окончания уроков класса"
        return f"{value.get('hours', 0)} ч после {what} (иначе {value.get('fallback', '23:59')})"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return "до срока ввода (deadline)"
    return str(value)


@dataclass(frozen=True)
class Profile:
    id: str
    title: str
    regulation: str  # file in regulations/
    uses: tuple[RuleUse, ...]
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    def use(self, rule: str) -> RuleUse:
        return next(u for u in self.uses if u.rule == rule)

    def params(self, rule: str) -> Mapping[str, Any]:
        use = self.use(rule)
        return MappingProxyType({**RULES[rule].defaults, **use.params})

    def param_sources(self, rule: str) -> dict[str, str]:
        """Every parameter the rule uses → its source: ``<file> п. <clause>: «words»``, or
        "выбор школы, по умолчанию N" (a municipality's override says so too)."""
        use = self.use(rule)
        out: dict[str, str] = {}
        for name, value in self.params(rule).items():
            words = use.sources.get(name)
            if words is not None and name in use.params:
                out[name] = f"{self.citation(use)}: «{words}»"
            else:
                out[name] = f"выбор школы, по умолчанию {show_value(value)}"
        return out

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
                kept = {k: v for k, v in u.sources.items() if k not in extra}
                u = replace(u, params={**u.params, **extra}, sources=kept)
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


def _u(rule: str, clause: str, sources: Mapping[str, str] | None = None, **params: Any) -> RuleUse:
    return RuleUse(rule, clause, params, sources=sources or {})


_BY_SHIFT = {"by": "time", "time": {"1": "15:00", "2": "20:00"}}
_NEXT_NOON = {"by": "time", "time": "12:00", "day_offset": 1}
_SAME_DAY = {"by": "time", "time": "23:59"}

# The words each parameter rests on, quoted from the regulation (regulations/ README).
_K_446 = "не позднее 15:00 для обучающихся 1 смены и 20:00 2 смены"
_P_35_DAY = "в день проведения урока (не позднее чем через час после окончания занятий у учащихся)"
_P_35_FINALS = "в течение последней недели каждого учебного периода до начала каникул"
_N_74_DAY = (
    "Текущие оценки, отметки о посещаемости уроков, темы уроков должны быть внесены … "
    "в день проведения уроков"
)
_N_FINALS = "в течение последней недели каждого учебного периода до начала каникулярного периода"
_A_424_DAY = "Электронный журнал заполняет в день проведения урока или до 12.00 следующего дня"
_GRADE1 = {"grades": "В 1-х классах"}

_PROFILES = (
    Profile(
        id="gymn2-krasnoyarsk",
        title="МАОУ Гимназия № 2 (Красноярск), ГИС ЭЖД КИАСУО — положение от 09.01.2024",
        regulation=REG["gymn2-krasnoyarsk"],
        uses=(
            _u(
                "marks.accumulation",
                "5.2",
                {
                    "base": "не менее трех оценок",
                    "base_hours": "при 2-часовой недельной учебной нагрузке по предмету",
                },
                base=3,
                base_hours=2,
            ),
            _u("grade1.no_marks", "3.7, 4.4.5", _GRADE1, grades=(1,)),
            _u("marks.work_type", "4.4.4"),
            _u("lessons.topic_deadline", "4.4.6", {"deadline": _K_446}, deadline=_BY_SHIFT),
            _u("homework.deadline", "4.4.6", {"deadline": _K_446}, deadline=_BY_SHIFT),
            _u(
                "finals.deadline",
                "5.3",
                {
                    "days_before": "Итоговые отметки выставляются не позднее 2-х дней до "
                    "окончания учебного периода"
                },
                days_before=2,
            ),
            _u("groups.subgroup_moves", "4.4.11"),
            _u("lessons.curriculum_hours", "4.4.8"),
        ),
    ),
    Profile(
        id="skshi8-permkrai",
        title="МБОУ «СКШИ VIII вида» (Пермский край), ЭПОС",
        regulation=REG["skshi8-permkrai"],
        uses=(
            _u("grade1.no_marks", "1.4", _GRADE1, grades=(1,)),
            _u("marks.none_or_single", "3.7"),
            _u(
                "lessons.topic_deadline",
                "3.5",
                {"deadline": _P_35_DAY},
                deadline={"by": "after_classes", "hours": 1, "fallback": "23:59"},
            ),
            _u(
                "homework.deadline",
                "3.5",
                {"deadline": _P_35_DAY},
                deadline={"by": "after_classes", "hours": 1, "fallback": "23:59"},
            ),
            _u(
                "marks.written_deadline",
                "3.5",
                {"days": "не позднее чем через неделю после проведения работы"},
                days=7,
            ),
            _u(
                "finals.deadline",
                "3.5",
                {"days_before": _P_35_FINALS, "window_days": _P_35_FINALS},
                days_before=0,
                window_days=7,
            ),
        ),
    ),
    Profile(
        id="sosh63-altai",
        title="МБОУ «СОШ № 63» (Алтайский край), АИС «Сетевой регион. Образование» — порядок 2023",
        regulation=REG["sosh63-altai"],
        uses=(
            _u("lessons.topic_deadline", "7.4", {"deadline": _N_74_DAY}, deadline=_SAME_DAY),
            _u(
                "homework.deadline",
                "7.4",
                {"deadline": "домашние задания – в течение трёх часов после окончания смены"},
                deadline={"by": "after_shift", "hours": 3, "fallback": "23:59"},
            ),
            _u(
                "marks.written_deadline",
                "7.4",
                {"days": "не позднее 7 дней со дня их проведения"},
                days=7,
            ),
            # 7.6 lets the school lock editing "после определенного количества дней" set by its
            # other acts: the number of days is the school's choice (not cited).
            _u(
                "marks.retroactive",
                "7.4, 7.6",
                {"deadline": _N_74_DAY, "written_days": "не позднее 7 дней со дня их проведения"},
                deadline=_SAME_DAY,
                written_days=7,
                edit_days=7,
            ),
            _u("marks.work_type", "2.3"),
            _u(
                "finals.deadline",
                "7.7, 7.10",
                {"days_before": _N_FINALS, "window_days": _N_FINALS},
                days_before=0,
                window_days=7,
            ),
            _u(
                "attendance.reason_fix",
                "7.3",
                {
                    "working_days": "не позднее 2 рабочих дней после предоставления обучающимся "
                    "документа о причине пропуска"
                },
                working_days=2,
            ),
        ),
    ),
    Profile(
        id="school106-novokuznetsk",
        title="МКОУ «Специальная школа № 106» (Новокузнецк), АИС «Электронная школа 2.0»",
        regulation=REG["school106-novokuznetsk"],
        uses=(
            _u("grade1.no_marks", "2.9", _GRADE1, grades=(1,)),
            _u(
                "lessons.topic_deadline",
                "3.4.1",
                {"deadline": "в день проведения урока, отсрочено – до 19.00 часов каждого дня"},
                deadline={"by": "time", "time": "19:00"},
            ),
            _u(
                "homework.deadline",
                "3.4.1, 3.4.3",
                {"deadline": "в день проведения урока, отсрочено – до 19.00 часов каждого дня"},
                deadline={"by": "time", "time": "19:00"},
            ),
            # 3.4.4: "не позднее сроков, оговоренных приказом по ОУ" — the term is the school's
            # order's, so days_before is the school's choice (not cited).
            _u("finals.deadline", "3.4.4", days_before=0),
        ),
    ),
    Profile(
        id="gymn24-stavropol",
        title="МАОУ гимназия № 24 (Ставрополь), ЭЖ АИС «Аверс» — инструкция от 30.08.2023",
        regulation=REG["gymn24-stavropol"],
        uses=(
            _u(
                "marks.frequency",
                "4.2.4",
                {"lessons_per_mark": "накопляемость отметок … 1 раз в 3-4 урока"},
                lessons_per_mark=4,
            ),
            _u("marks.none_or_single", "3.5"),
            _u("lessons.topic_deadline", "4.2.4", {"deadline": _A_424_DAY}, deadline=_NEXT_NOON),
            _u("homework.deadline", "4.2.4", {"deadline": _A_424_DAY}, deadline=_NEXT_NOON),
            _u(
                "marks.retroactive",
                "4.2.4",
                {
                    "deadline": _A_424_DAY,
                    "edit_days": "Запрещается исправление оценок (отметок) и выставление оценок "
                    "(отметок) «задним числом»",
                },
                deadline=_NEXT_NOON,
                edit_days=None,
            ),
            _u("marks.work_type", "4.2.4"),
            _u(
                "finals.deadline",
                "4.2.4",
                {"days_before": "в конце каждого отчётного периода до начала каникул"},
                days_before=0,
            ),
        ),
    ),
)


def _all_rules() -> Profile:
    """Every rule, each as the first profile that uses it applies it — its clause, its
    parameters and their sources — so no clause is cited with numbers it does not state."""
    uses = []
    for rule in RULES:
        owner = next(p for p in _PROFILES if any(u.rule == rule for u in p.uses))
        use = owner.use(rule)
        uses.append(replace(use, file=use.file or owner.regulation))
    return Profile(
        id="all",
        title="Все правила (каждое — как в первом положении, где оно есть)",
        regulation="",
        uses=tuple(uses),
    )


ALL = _all_rules()

#: The ids profiles had when they were named after the platform of the school that wrote the
#: regulation: configs written then keep working.
FORMER_IDS: Mapping[str, str] = MappingProxyType(
    {
        "kiasuo-gymn2": "gymn2-krasnoyarsk",
        "perm-skshi": "skshi8-permkrai",
        "netschool-sosh63": "sosh63-altai",
        "ruobr-school106": "school106-novokuznetsk",
        "avers-gymn24": "gymn24-stavropol",
    }
)


class _Profiles(Mapping[str, Profile]):
    """The profiles by id; a former id (:data:`FORMER_IDS`) is found too, but only the current
    ids are listed (iteration, ``len``)."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._by_id = {p.id: p for p in profiles}

    def __getitem__(self, profile_id: str) -> Profile:
        return self._by_id[FORMER_IDS.get(profile_id, profile_id)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


PROFILES: Mapping[str, Profile] = _Profiles((*_PROFILES, ALL))


def profile_ids() -> tuple[str, ...]:
    return tuple(PROFILES)


def get_profile(profile_id: str, overrides: Mapping[str, Any] | None = None) -> Profile:
    """A profile by id (or a former id), with a municipality's parameter overrides applied."""
    try:
        profile = PROFILES[profile_id]
    except KeyError:
        raise ConfigError(
            f"unknown compliance profile {profile_id!r}; known: {', '.join(PROFILES)}"
        ) from None
    return profile.with_overrides(overrides) if overrides else profile


def explain_rows(profiles: Iterable[Profile] | None = None) -> list[tuple[str, str, str, str, str]]:
    """(rule, profile, parameter, value, source) for every parameter of every rule of every
    profile: the table ``journalsync report --explain`` prints. A rule without parameters is
    one row with its clause."""
    rows: list[tuple[str, str, str, str, str]] = []
    for profile in profiles if profiles is not None else PROFILES.values():
        for use in profile.uses:
            sources = profile.param_sources(use.rule)
            if not sources:
                rows.append((use.rule, profile.id, "—", "—", profile.citation(use)))
            params = profile.params(use.rule)
            for name in sorted(sources):
                rows.append((use.rule, profile.id, name, show_value(params[name]), sources[name]))
    return sorted(rows, key=lambda r: (r[0], r[1], r[2]))
