"""What NetSchool holds of a journal written through its teacher journal (a migration's
explained differences).

Every entry rests on the platform note (``shared/platforms/netschool.md``) and this package's
push code (``_push.py``).
"""

from __future__ import annotations

from core.codes import MarkValue
from core.translation import FieldRule, MigrationTable, Reason, only_values, type_default_weight

__all__ = ["MIGRATION"]

_SCALE = Reason(
    "mark_scale",
    "журнал «Сетевого города» принимает только отметки 1–5 и «точку» (зачёт, незачёт, "
    "«осв.» и «н/а» в него не ставятся)",
    "netschool.md §6.2 п. 3 (quick edit, 5-point scale only) and §5.1 (точка = dutyMark); "
    "connectors/netschool/_push.py _wire_mark",
)
_WEIGHT = Reason(
    "weight_by_type",
    "в «Сетевом городе» вес отметки задаёт тип работы: новая отметка получает вес своего типа",
    "netschool.md §5.1 (weight per assignment, configurable per type); "
    "connectors/netschool/connector.py capabilities notes (a push cannot set a weight)",
)
_HOMEWORK = Reason(
    "homework_not_writable",
    "домашнее задание к прошедшему уроку «Сетевой город» не создаёт; записи переносятся без него",
    "netschool.md §6.2 п. 3 (the UI forbids new homework on today's or past lessons) "
    "and п. 4 (CreateOrEditHomeAssignment.asp for future lessons only)",
)
_FINALS = Reason(
    "final_not_writable",
    "итоговые отметки в «Сетевом городе» ставятся только в форме итоговых отметок "
    "(EditTotal.asp); через журнал они не переносятся",
    "netschool.md §5.1 (finals only in reports or EditTotal.asp) and §6.2 п. 4",
)

MIGRATION = MigrationTable(
    rules=(
        FieldRule(
            "mark",
            "value",
            _SCALE,
            only_values(
                {
                    MarkValue.ONE,
                    MarkValue.TWO,
                    MarkValue.THREE,
                    MarkValue.FOUR,
                    MarkValue.FIVE,
                    MarkValue.DOT,
                }
            ),
        ),
        FieldRule("mark", "weight", _WEIGHT, type_default_weight()),
    ),
    not_writable={"homework": _HOMEWORK, "final_mark": _FINALS},
)
