"""Every rule the regulations in ``regulations/`` state that software can check, as data.

Clauses are cited as ``<file> п. <clause>``; a profile (``_profiles``) picks the rules of its
regulation, cites its own clause and sets the parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.compliance._rule import Rule
from core.compliance._rules_marks import (
    check_accumulation,
    check_grade1,
    check_none_or_single,
    check_retroactive,
    check_work_type,
    check_written_deadline,
)
from core.compliance._rules_time import (
    check_curriculum_hours,
    check_finals_deadline,
    check_homework_deadline,
    check_reason_fix,
    check_subgroup_moves,
    check_topic_deadline,
)
from core.compliance._types import Clause, Severity

__all__ = ["REG", "RULES"]

#: The regulation files, by a short id of the school that wrote each (its profile's id too).
#: Each school keeps its journal on one platform; which platform is the school's business (its
#: config), not the regulation's.
REG = {
    "gymn2-krasnoyarsk": "000_926632365ce7fa90.txt",  # МАОУ Гимназия № 2, Красноярск
    "skshi8-permkrai": "001_82ed231d27663cba.txt",  # МБОУ «СКШИ VIII вида», Пермский край
    "sosh63-altai": "002_68a35156ebd54df6.txt",  # МБОУ «СОШ № 63», Алтайский край
    "school106-novokuznetsk": "003_b471be5f33554e1d.txt",  # МКОУ «Специальная школа № 106»
    "gymn24-stavropol": "004_c9aa1b3a8d37a1b9.txt",  # МАОУ гимназия № 24, Ставрополь
}


def _c(reg: str, clause: str) -> Clause:
    return Clause(REG[reg], clause)


_MARKS = frozenset({"student_id", "lesson_id", "value"})
_SAME_DAY = {"by": "time", "time": "23:59"}
_ROSTER = {
    "enrollment": (
        "состав классов не передаётся: обучающийся без единой отметки и записи посещаемости "
        "по предмету не виден"
    )
}

_RULES = (
    Rule(
        id="marks.accumulation",
        title=(
            "Накопляемость отметок: не менее трёх отметок за четверть/полугодие при нагрузке "
            "2 ч в неделю и больше при большей нагрузке"
        ),
        sources=(_c("gymn2-krasnoyarsk", "5.2"),),
        severity=Severity.ERROR,
        defaults={"base": 3, "base_hours": 2, "per_extra_hour": 1, "min_grade": 2},
        check=check_accumulation,
        needs={"mark": _MARKS, "lesson": frozenset({"date"})},
        partial=_ROSTER,
    ),
    Rule(
        id="marks.frequency",
        title="Накопляемость отметок: не реже одной отметки за 3–4 урока",
        sources=(_c("gymn24-stavropol", "4.2.4"),),
        severity=Severity.ERROR,
        defaults={"lessons_per_mark": 4, "min_grade": 2},
        check=check_accumulation,
        needs={"mark": _MARKS, "lesson": frozenset({"date"})},
        partial=_ROSTER,
    ),
    Rule(
        id="marks.none_or_single",
        title="Обучающиеся без отметок или с одной отметкой за период",
        sources=(_c("skshi8-permkrai", "3.7"), _c("gymn24-stavropol", "3.5")),
        severity=Severity.WARNING,
        defaults={"min_lessons": 5, "min_grade": 2},
        check=check_none_or_single,
        needs={"mark": _MARKS, "lesson": frozenset({"date"})},
        partial=_ROSTER,
    ),
    Rule(
        id="lessons.topic_deadline",
        title="Темы уроков записываются в день урока до установленного срока",
        sources=(
            _c("gymn2-krasnoyarsk", "4.4.6"),
            _c("skshi8-permkrai", "3.5"),
            _c("sosh63-altai", "7.4"),
            _c("school106-novokuznetsk", "3.4.1"),
            _c("gymn24-stavropol", "4.2.4"),
        ),
        severity=Severity.ERROR,
        defaults={"deadline": _SAME_DAY},
        check=check_topic_deadline,
        needs={"lesson": frozenset({"topic", "date"})},
        times=frozenset({"lesson"}),
    ),
    Rule(
        id="homework.deadline",
        title="Домашнее задание записывается до установленного срока",
        sources=(
            _c("gymn2-krasnoyarsk", "4.4.6"),
            _c("skshi8-permkrai", "3.5"),
            _c("sosh63-altai", "7.4"),
            _c("school106-novokuznetsk", "3.4.3"),
            _c("gymn24-stavropol", "4.2.4"),
        ),
        severity=Severity.ERROR,
        defaults={"deadline": _SAME_DAY},
        check=check_homework_deadline,
        needs={"homework": frozenset({"lesson_id"})},
        times=frozenset({"homework"}),
    ),
    Rule(
        id="marks.written_deadline",
        title="Отметки за письменные работы выставляются не позднее 7 дней после работы",
        sources=(_c("sosh63-altai", "7.4"), _c("skshi8-permkrai", "3.5")),
        severity=Severity.ERROR,
        defaults={"days": 7},
        check=check_written_deadline,
        needs={"mark": _MARKS | {"work_type"}},
        times=frozenset({"mark"}),
    ),
    Rule(
        id="finals.deadline",
        title="Итоговые отметки за период выставляются до установленного срока до его окончания",
        sources=(
            _c("gymn2-krasnoyarsk", "5.3"),
            _c("skshi8-permkrai", "3.5"),
            _c("sosh63-altai", "7.7"),
            _c("school106-novokuznetsk", "3.4.4"),
            _c("gymn24-stavropol", "4.2.4"),
        ),
        severity=Severity.ERROR,
        defaults={"days_before": 0, "min_grade": 2},
        check=check_finals_deadline,
        needs={"final_mark": frozenset({"student_id", "subject_id", "period_id", "value"})},
        partial=_ROSTER,
        times=frozenset({"final_mark"}),
    ),
    Rule(
        id="grade1.no_marks",
        title="В 1-х классах отметки и домашние задания в журнал не ставятся",
        sources=(
            _c("gymn2-krasnoyarsk", "3.7"),
            _c("gymn2-krasnoyarsk", "4.4.5"),
            _c("skshi8-permkrai", "1.4"),
            _c("school106-novokuznetsk", "2.9"),
        ),
        severity=Severity.ERROR,
        defaults={"grades": (1,)},
        check=check_grade1,
        needs={"class_unit": frozenset({"grade"})},
    ),
    Rule(
        id="marks.work_type",
        title="Отметки выставляются с обязательным указанием типа задания",
        sources=(
            _c("gymn2-krasnoyarsk", "4.4.4"),
            _c("sosh63-altai", "2.3"),
            _c("gymn24-stavropol", "4.2.4"),
        ),
        severity=Severity.WARNING,
        defaults={"unspecified": ("other",)},
        check=check_work_type,
        needs={"mark": frozenset({"work_type"})},
    ),
    Rule(
        id="marks.retroactive",
        title="Запрещается выставление и исправление отметок «задним числом»",
        sources=(
            _c("gymn24-stavropol", "4.2.4"),
            _c("sosh63-altai", "7.6"),
        ),  # 7.4 for its deadlines
        severity=Severity.ERROR,
        defaults={"deadline": _SAME_DAY, "edit_days": None, "written_days": 7},
        check=check_retroactive,
        needs={"mark": _MARKS | {"work_type"}},
        times=frozenset({"mark"}),
    ),
    Rule(
        id="attendance.reason_fix",
        title="Причины пропусков корректируются не позднее 2 рабочих дней",
        sources=(_c("sosh63-altai", "7.3"),),
        severity=Severity.WARNING,
        defaults={"working_days": 2},
        check=check_reason_fix,
        needs={"attendance": frozenset({"code"})},
        history=frozenset({"attendance"}),
    ),
    Rule(
        id="groups.subgroup_moves",
        title="Перевод обучающихся из подгруппы в подгруппу — только по окончании учебного периода",
        sources=(_c("gymn2-krasnoyarsk", "4.4.11"), _c("gymn2-krasnoyarsk", "4.3.7")),
        severity=Severity.WARNING,
        defaults={"tolerance_days": 3, "start_days": 14},
        check=check_subgroup_moves,
        needs={"group": frozenset({"member_ids"})},
        history=frozenset({"group"}),
    ),
    Rule(
        id="lessons.curriculum_hours",
        title="Количество проведённых уроков соответствует учебному плану",
        # 002 §5.6 sets only the date the plan is due (1 October), not that hours match.
        sources=(_c("gymn2-krasnoyarsk", "4.4.8"),),
        severity=Severity.WARNING,
        defaults={"tolerance_share": 0.1, "tolerance_lessons": 1},
        check=check_curriculum_hours,
        needs={"lesson": frozenset({"date", "group_id"})},
    ),
)

RULES: Mapping[str, Rule] = {r.id: r for r in _RULES}
