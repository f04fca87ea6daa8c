"""The values compliance hands out: findings, rules not checked, severities, clauses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

__all__ = ["Clause", "Finding", "NotChecked", "Severity"]


class Severity(StrEnum):
    ERROR = "error"  # a breach of a rule the regulation states as a duty
    WARNING = "warning"  # a breach of a recommendation, or a likely breach
    INFO = "info"  # worth a look, not a breach by itself


SEVERITY_LABELS = {
    Severity.ERROR: "нарушение",
    Severity.WARNING: "предупреждение",
    Severity.INFO: "к сведению",
}


@dataclass(frozen=True, slots=True)
class Clause:
    """A clause of a regulation in ``regulations/``: file name and clause number."""

    file: str
    clause: str

    def __str__(self) -> str:
        return f"{self.file} п. {self.clause}"


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One breach of one rule, named in terms a school reads (names, not ids).

    ``value`` is the number that broke the rule (marks counted, hours late, days late …) and
    ``limit`` the bound it was held against; ``message`` says it in Russian.
    """

    rule: str
    school: str
    class_name: str = ""
    subject: str = ""
    teacher: str = ""
    student: str = ""
    day: date | None = None
    period: str = ""
    value: float = 0.0
    limit: float = 0.0
    severity: Severity = Severity.ERROR
    message: str = ""
    clause: str = ""

    def key(self) -> tuple[str, str, str, str, str, date | None, float]:
        """What makes two findings "the same" across platforms (no ids, no wording)."""
        return (
            self.rule,
            self.class_name,
            self.subject,
            self.student,
            self.teacher,
            self.day,
            round(self.value, 2),
        )


@dataclass(frozen=True, slots=True)
class NotChecked:
    """A rule that could not be checked on this data, and why (in Russian)."""

    rule: str
    school: str
    platform: str
    reason: str
