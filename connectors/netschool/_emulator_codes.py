"""NetSchool code tables as the emulator serves them (note §5.2, §5.3).

Work type ids follow the built-in table every public client saw (note §5.3); «other» is served as
2 «Тематическая работа» [guess]. Weights on the wire are the canonical weight × 10 (the note sees
10/20/40 on asurso.ru).
"""

from __future__ import annotations

from core.codes import AttendanceCode

WORK_TYPE_IDS: dict[str, int] = {
    "practical": 1,
    "other": 2,
    "homework": 3,
    "test": 4,
    "independent": 5,
    "lab": 6,
    "project": 7,
    "dictation": 8,
    "answer": 10,
    "essay": 11,
    "exposition": 12,
    "credit": 13,
    "quiz": 14,
    "diagnostic": 17,
    "classwork": 21,
    "report": 24,
    "check": 25,
    "recitation": 26,
    "exam": 33,
}
TYPE_ID_TO_CODE: dict[int, str] = {v: k for k, v in WORK_TYPE_IDS.items()}

# The full built-in catalogue (note §5.3): id → (name, abbreviation).
TYPE_CATALOGUE: dict[int, tuple[str, str]] = {
    1: ("Практическая работа", "ПР"),
    2: ("Тематическая работа", "ТР"),
    3: ("Домашнее задание", "ДЗ"),
    4: ("Контрольная работа", "КР"),
    5: ("Самостоятельная работа", "СР"),
    6: ("Лабораторная работа", "ЛР"),
    7: ("Проект", "П"),
    8: ("Диктант", "Д"),
    9: ("Реферат", "Р"),
    10: ("Ответ на уроке", "О"),
    11: ("Сочинение", "С"),
    12: ("Изложение", "И"),
    13: ("Зачёт", "З"),
    14: ("Тестирование", "Т"),
    16: ("Диагностическая контрольная работа", "ДКР"),
    17: ("Диагностическая работа", "ДР"),
    18: ("Контрольное списывание", "КС"),
    21: ("Работа на уроке", "РУ"),
    22: ("Работа в тетради", "РТ"),
    23: ("Ведение рабочей тетради", "ВРТ"),
    24: ("Доклад/Презентация", "ДП"),
    25: ("Проверочная работа", "ПрР"),
    26: ("Чтение наизусть", "ЧН"),
    27: ("Пересказ текста", "ПТ"),
    29: ("Предметный диктант", "ПД"),
    31: ("Дифференцированный зачет", "ДЗч"),
    32: ("Работа с картами", "РК"),
    33: ("Экзамен", "Э"),
    34: ("Изложение с элементами сочинения", "ИС"),
    35: ("Контроль аудирования", "КА"),
    36: ("Контроль грамматики", "КГ"),
    37: ("Контроль лексики", "КЛ"),
    38: ("Устный развернутый ответ", "УО"),
}

ATTENDANCE_TO_WIRE: dict[AttendanceCode, str] = {
    AttendanceCode.ABSENT: "ОТ",
    AttendanceCode.EXCUSED: "УП",
    AttendanceCode.ILL: "Б",
    AttendanceCode.LATE: "ОП",
    AttendanceCode.RELEASED: "ОСВ",
}
WIRE_TO_ATTENDANCE: dict[str, AttendanceCode] = {
    **{v: k for k, v in ATTENDANCE_TO_WIRE.items()},
    "НП": AttendanceCode.ABSENT,
}
ATTENDANCE_REASONS: list[dict[str, str]] = [
    {"mark": "ОТ", "name": "Отсутствовал"},
    {"mark": "УП", "name": "Пропуск по уважительной причине"},
    {"mark": "Б", "name": "Пропуск по болезни"},
    {"mark": "НП", "name": "Пропуск по неуважительной причине"},
    {"mark": "ОП", "name": "Опоздал"},
    {"mark": "ОСВ", "name": "Освобожден"},
]


def wire_weight(weight: float) -> int:
    return round(weight * 10)


def type_name(type_id: int) -> str:
    return TYPE_CATALOGUE.get(type_id, ("Задание", ""))[0]
