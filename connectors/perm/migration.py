"""What ЭПОС holds of a journal written to it (a migration's explained differences).

Every entry rests on the platform note (``shared/platforms/perm.md``) and this package's mapping.
"""

from __future__ import annotations

from core.codes import AttendanceCode
from core.translation import DROP, FieldRule, MigrationTable, Reason, value_map, whole_number

__all__ = ["MIGRATION"]

_WEIGHT = Reason(
    "weight_whole",
    "в ЭПОС вес отметки — целое число (округляется: 1,5 → 2)",
    "perm.md §5 «Weight: integer, typically 1–5»; connectors/perm/mapping.py Mapper.mark "
    "(weight=float(item.weight)); connectors/perm/_emulator_render.py wire_weight (half up)",
)
_ABSENCE = Reason(
    "attendance_reason",
    "в ЭПОС у пропуска нет причины: болезнь, уважительная причина и освобождение "
    "отмечаются как «Н»",
    "perm.md §5 «No reason codes seen in Perm clients»; connectors/perm/mapping.py module "
    "docstring (an attendance row means absent, code always «absent»)",
)
_LATE = Reason(
    "attendance_late",
    "опоздание в ЭПОС не отмечается: посещаемость хранит только пропуски",
    "perm.md §5 (an absence is a row in student_profile.attendances); "
    "connectors/perm/_emulator_render.py (a late arrival has no attendance row)",
)

_ORDINAL = Reason(
    "ordinal_per_pupil",
    "в ЭПОС отметки ученика за один вид работы на уроке нумеруются подряд (1, 2 …), "
    "а не по графе урока",
    "connectors/perm/mapping.py module docstring (a mark's ordinal is its position among the "
    "same student's marks of the same work type on the lesson); perm.md §4.5 "
    "(one row per mark, no slot)",
)

MIGRATION = MigrationTable(
    rules=(
        FieldRule("mark", "weight", _WEIGHT, whole_number()),
        FieldRule(
            "attendance",
            "code",
            _ABSENCE,
            value_map(
                {
                    AttendanceCode.ILL: AttendanceCode.ABSENT,
                    AttendanceCode.EXCUSED: AttendanceCode.ABSENT,
                    AttendanceCode.RELEASED: AttendanceCode.ABSENT,
                }
            ),
        ),
        FieldRule("attendance", "code", _LATE, value_map({AttendanceCode.LATE: DROP})),
    ),
    per_pupil_ordinals=_ORDINAL,
)
