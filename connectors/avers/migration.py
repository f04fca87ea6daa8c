"""What АВЕРС holds of a journal entered into it (a migration's explained differences).

Every entry rests on the platform note (``shared/platforms/avers.md``) and this package's code
table (``mapping.py`` ``_JOURNAL_CODES``).
"""

from __future__ import annotations

from core.codes import AttendanceCode, MarkValue
from core.translation import DROP, FieldRule, MigrationTable, Reason, value_map

__all__ = ["MIGRATION"]

_MARKS = Reason(
    "mark_no_code",
    "в АВЕРС нет кода для «точки» и «н/а»: такие отметки не переносятся",
    "avers.md §5.1 (journal codes 1–5, 101–106); connectors/avers/mapping.py _JOURNAL_CODES; "
    "connectors/avers/connector.py capabilities notes",
)
_ATTENDANCE = Reason(
    "attendance_no_code",
    "в АВЕРС нет кода для опоздания и освобождения от урока: такие отметки не переносятся",
    "avers.md §5.1; connectors/avers/mapping.py _JOURNAL_CODES (Н, Б, У only)",
)

MIGRATION = MigrationTable(
    rules=(
        FieldRule(
            "mark",
            "value",
            _MARKS,
            value_map({MarkValue.DOT: DROP, MarkValue.NOT_ATTESTED: DROP}),
        ),
        FieldRule(
            "attendance",
            "code",
            _ATTENDANCE,
            value_map({AttendanceCode.LATE: DROP, AttendanceCode.RELEASED: DROP}),
        ),
    ),
)
