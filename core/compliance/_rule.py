"""What a rule is (data: id, Russian text, clauses, parameters, severity, a check) and the
context a check runs in (the moment of the check, the school's time zone, the calendar, the
curriculum), plus the small array helpers the checks share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from core.compliance._calendar import ProductionCalendar
from core.compliance._frame import I32, I64, JournalFrame
from core.compliance._types import Clause, Finding, Severity

__all__ = [
    "EPOCH_ORD",
    "NO_TIMES",
    "Context",
    "Rule",
    "day_start",
    "deadline_epochs",
    "local_ordinal",
]

EPOCH_ORD = date(1970, 1, 1).toordinal()
#: Why entry times can be unknown (for the "not checked" notes).
NO_TIMES = (
    "платформа не сообщает время ввода записей, а синхронизация ещё не видела их появления "
    "после первой загрузки"
)
DAY = 86400


@dataclass
class Context:
    """Where and when a check runs. ``tz_offset`` is the school's UTC offset in seconds."""

    as_of: datetime
    calendar: ProductionCalendar = field(default_factory=ProductionCalendar)
    tz_offset: int = 3 * 3600
    #: (grade, subject name) → weekly hours of the school's curriculum (учебный план).
    curriculum: Mapping[tuple[int, str], float] = field(default_factory=dict)
    #: Why part of a rule could not be checked, filled by the checks as they run.
    notes: list[str] = field(default_factory=list)
    #: Why the whole rule could not be checked (set by a check that returns early).
    skipped: str | None = None
    #: Entities whose entry times the platform cannot observe → why (Russian); the engine has
    #: blanked their time columns, so the checks treat them as unknown.
    untimed: Mapping[str, str] = field(default_factory=dict)

    def no_times(self, entity: str) -> str:
        """Why ``entity``'s entry times are unknown, for a "not checked" note."""
        return self.untimed.get(entity, NO_TIMES)

    def skip(self, reason: str) -> None:
        self.skipped = reason

    @property
    def as_of_epoch(self) -> int:
        return int(self.as_of.astimezone(UTC).timestamp())

    @property
    def as_of_day(self) -> int:
        """Today's ordinal in the school's time zone."""
        return (self.as_of_epoch + self.tz_offset) // DAY + EPOCH_ORD


Check = Callable[[JournalFrame, Context, Mapping[str, Any], "Emit"], None]


@dataclass(frozen=True)
class Rule:
    """One compliance rule, as data. ``check`` calls ``emit`` once per breach."""

    id: str
    title: str
    sources: tuple[Clause, ...]
    severity: Severity
    defaults: Mapping[str, Any]
    check: Check
    #: Canonical fields (entity → fields) the rule reads; a platform that cannot carry one of
    #: them makes the rule uncheckable on its data.
    needs: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: Data whose absence leaves the rule checkable only in part: entity → why (Russian).
    partial: Mapping[str, str] = field(default_factory=dict)
    #: Entities whose change history the rule needs (events like "reason corrected").
    history: frozenset[str] = frozenset()
    #: Entities whose entry times the rule judges (a platform that cannot observe them makes
    #: that part «не проверено», never a finding).
    times: frozenset[str] = frozenset()


@dataclass
class Emit:
    """Collects a rule's findings with the rule's id, severity and clause filled in."""

    frame: JournalFrame
    rule: str
    severity: Severity
    clause: str
    findings: list[Finding] = field(default_factory=list)

    def __call__(
        self,
        *,
        group: int = -1,
        lesson: int = -1,
        student: int = -1,
        teacher: int = -1,
        class_index: int = -1,
        subject: int = -1,
        day: int = -1,
        period: int = -1,
        value: float = 0.0,
        limit: float = 0.0,
        message: str,
    ) -> None:
        f = self.frame
        if lesson >= 0:
            group = int(f.l_group[lesson])
            day = int(f.l_day[lesson]) if day < 0 else day
            teacher = int(f.l_teacher[lesson]) if teacher < 0 else teacher
        if group >= 0:
            class_index = int(f.group_class[group]) if class_index < 0 else class_index
            subject = int(f.group_subject[group]) if subject < 0 else subject
            teacher = int(f.group_teacher[group]) if teacher < 0 else teacher
        self.findings.append(
            Finding(
                rule=self.rule,
                school=f.school,
                class_name=f.class_names[class_index] if class_index >= 0 else "",
                subject=f.subject_names[subject] if subject >= 0 else "",
                teacher=f.teacher_name(teacher),
                student=f.student_name(student),
                day=date.fromordinal(day) if day > 0 else None,
                period=f.periods[period].label if period >= 0 else "",
                value=float(value),
                limit=float(limit),
                severity=self.severity,
                message=message,
                clause=self.clause,
            )
        )


def local_ordinal(at: I64 | int, tz_offset: int) -> Any:
    """The school-local day ordinal of UTC epoch seconds."""
    return (np.asarray(at) + tz_offset) // DAY + EPOCH_ORD


def day_start(ordinal: I32 | int, tz_offset: int) -> Any:
    """UTC epoch seconds of local midnight starting day ``ordinal``."""
    return (np.asarray(ordinal, dtype=np.int64) - EPOCH_ORD) * DAY - tz_offset


def _hhmm(text: str) -> int:
    hh, mm = str(text).split(":")
    return (int(hh) * 60 + int(mm)) * 60


def deadline_epochs(
    frame: JournalFrame, lessons: I32, spec: Mapping[str, Any], tz_offset: int
) -> I64:
    """Entry deadline of each lesson (UTC epoch seconds) by a profile's deadline spec.

    * ``{"by": "time", "time": "19:00" | {"1": "15:00", "2": "20:00"}, "day_offset": 0}`` — a
      clock time on the lesson's day (or ``day_offset`` days later), per shift if a mapping;
    * ``{"by": "after_classes", "hours": 1, "fallback": "23:59"}`` — hours after the end of the
      class's last lesson that day, or the fallback time when end times are unknown;
    * ``{"by": "after_shift", "hours": 3, "fallback": "23:59"}`` — hours after the end of the
      shift: the school's last lesson of the lesson's shift that day.
    """
    days = frame.l_day[lessons]
    base = day_start(days, tz_offset)
    if spec.get("by") in ("after_classes", "after_shift"):
        # after_classes: the class's last lesson that day; after_shift: the end of the shift —
        # the school's last lesson of that shift that day, whatever the class.
        if spec.get("by") == "after_shift":
            cls = np.zeros(len(frame.l_day), dtype=np.int64)
        else:
            cls = frame.group_class[frame.l_group].astype(np.int64)
        key = cls * 10_000_000 + frame.l_day.astype(np.int64) * 10 + frame.l_shift
        uniq, inv = np.unique(key, return_inverse=True)
        last = np.full(len(uniq), -1, dtype=np.int64)
        np.maximum.at(last, inv, frame.l_end.astype(np.int64))
        end_min = last[inv][lessons]
        fallback = _hhmm(spec.get("fallback", "23:59")) + 59
        rel = np.where(
            end_min >= 0, end_min * 60 + int(float(spec.get("hours", 0)) * 3600), fallback
        )
        out: I64 = base + rel
        return out
    times = spec.get("time", "23:59")
    offset = int(spec.get("day_offset", 0)) * DAY
    if isinstance(times, Mapping):
        shift_secs = {int(k): _hhmm(v) for k, v in times.items()}
        default = max(shift_secs.values())
        rel = np.array(
            [shift_secs.get(int(s), default) for s in frame.l_shift[lessons]], dtype=np.int64
        )
    else:
        rel = np.full(len(lessons), _hhmm(times), dtype=np.int64)
    if str(spec.get("time", "")).endswith("23:59"):
        rel = rel + 59
    out = base + offset + rel
    return out


def ended_periods(
    frame: JournalFrame, ctx: Context, kinds: Iterable[str] | None = None
) -> list[int]:
    """Indices of periods that have ended by the check's day (optionally of some kinds)."""
    wanted = set(kinds) if kinds is not None else None
    return [
        i
        for i, p in enumerate(frame.periods)
        if p.end < ctx.as_of_day and (wanted is None or p.kind in wanted)
    ]
