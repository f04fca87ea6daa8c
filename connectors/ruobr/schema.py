"""Pydantic models of Ruobr's api3d payloads (WIRE.md), not of the canonical journal.

Tolerant on purpose, like every connector's schema layer:

* **unknown fields** are kept (``extra="allow"``) and reported once per model as *schema drift*
  (names only, never values);
* **one bad record does not sink its response**: lessons, tasks, marks, periods and control
  marks are parsed item by item; an item that fails validation becomes a :class:`Bad`
  placeholder that the mapping quarantines. A broken *container* (``lessons`` missing, a
  ``controlmark`` that is not a list) is a :class:`core.errors.ContractError`.

Dates drifted between ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM:SS`` and ``DD.MM.YYYY`` (note §7.2); all
three are read.

Both mechanisms are :mod:`core.platform`'s (``PayloadReader``); this module holds the models.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from core import platform
from core.errors import ContractError
from core.logging import get_logger

__all__ = [
    "AllMarks",
    "AllMarksItem",
    "Bad",
    "Child",
    "ControlMark",
    "ControlPeriod",
    "Lesson",
    "LessonMark",
    "Task",
    "Timetable",
    "Wire",
    "parse",
    "parse_list",
    "parse_user",
]

_log = get_logger(__name__)


class Wire(platform.PlatformModel):
    """Base of every platform payload model: keeps unknown fields for drift reporting."""


Bad = platform.Bad


_reader = platform.PayloadReader("ruobr", bad=Bad, logger=_log)
_lenient = _reader.lenient
parse = _reader.parse
parse_list = _reader.parse_list
reset_drift_reports = _reader.reset_drift_reports


_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _day(value: Any) -> Any:
    """``YYYY-MM-DD`` | ``YYYY-MM-DDTHH:MM:SS`` | ``YYYY-MM-DD HH:MM:SS`` | ``DD.MM.YYYY``."""
    if isinstance(value, str):
        if len(value) == 10 and value[4] == "-":  # the usual YYYY-MM-DD: nothing to change
            return value
        text = value.strip()
        if not text:
            return None
        m = _DMY.match(text)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return text[:10] if len(text) > 10 and text[10] in "T " else text
    return value


def _mark_text(value: Any) -> Any:
    """Marks come as strings ("5") or ints (R2 types them int); keep the text."""
    if isinstance(value, bool):
        return value  # let validation fail: a bool is not a mark
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _decimal(value: Any) -> Any:
    """Floats sometimes travel as strings with a decimal comma (note §3)."""
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        return text or "0"
    return value


Day = Annotated[date, BeforeValidator(_day)]
OptDay = Annotated[date | None, BeforeValidator(_day)]
MarkText = Annotated[str, BeforeValidator(_mark_text)]
Decimal = Annotated[float, BeforeValidator(_decimal)]


# --- user/ ---------------------------------------------------------------------------------------


class Child(Wire):
    """A pupil as ``user/`` shows it (the whole object for a student, ``childs[]`` for a parent)."""

    KNOWN = frozenset(
        {
            "success",
            "status",
            "user_img",
            "school_terrirtory_id",
            "school_is_tourniquet",
            "school_is_food",
            "readonly",
            "gps_tracker",
            "push_settings",
            "balance",
            "tourniquet",
            "mau_balance",
            "gender",
        }
    )

    id: int
    user_id: int | None = None
    first_name: str
    last_name: str
    middle_name: str = ""
    birth_date: OptDay = None
    school: str = ""
    group: str


# --- timetable2/ ---------------------------------------------------------------------------------


class Task(Wire):
    KNOWN = frozenset({"doc", "requires_solutions", "test_id"})

    id: int
    title: str = ""
    deadline: OptDay = None
    type: str = "group"
    text: str = ""


class LessonMark(Wire):
    question_id: int
    question_name: str = ""
    question_type: str = ""
    number: int = 1
    mark: MarkText


class Lesson(Wire):
    KNOWN = frozenset({"room"})

    id: int
    date: Day
    time_start: str
    time_end: str = ""
    subject: str
    division_subject: int | None = None
    division_subject_str: str = ""
    staff: str = ""
    staff_id: int | None = None
    topic: str | None = None
    # Optional keys: absent (not null) when empty (note §4.3).
    task: Annotated[list[Task | Bad], _lenient(Task)] = Field(default_factory=list)
    marks: Annotated[list[LessonMark | Bad], _lenient(LessonMark)] = Field(default_factory=list)


class Timetable(Wire):
    lessons: Annotated[list[Lesson | Bad], _lenient(Lesson)]


# --- controlmark/ --------------------------------------------------------------------------------


class ControlMark(Wire):
    subject_id: int
    subject_name: str
    mark: Decimal = 0.0
    sub_type: int = 0


class ControlPeriod(Wire):
    KNOWN = frozenset({"counted_marks"})

    period: int
    rom: str = ""
    title: str
    date_start: Day
    date_end: Day
    marks_future: int = 0
    marks: Annotated[list[ControlMark | Bad], _lenient(ControlMark)] = Field(default_factory=list)


# --- all_marks/{period}/{subject}/ ---------------------------------------------------------------


class AllMarksItem(Wire):
    indx: int
    date: Day
    mark: MarkText = ""
    mark_int: int | None = None
    status_lesson: str = ""


class AllMarks(Wire):
    KNOWN = frozenset(
        {
            "title",
            "date_start",
            "date_end",
            "avg_mark",
            "control_mark",
            "need_five",
            "need_four",
            "count_mark",
            "all_state_marks",
            "state_mark",
        }
    )

    subject: str = ""
    sub_id: int | None = None
    period: int | None = None
    not_in_lesson: int = 0
    marks: Annotated[list[AllMarksItem | Bad], _lenient(AllMarksItem)] = Field(default_factory=list)


def parse_user(data: Any) -> list[Child | Bad]:
    """``user/`` → the account's pupils: the object itself for ``status: "child"``, ``childs``
    for a parent (``status: "applicant"``)."""
    if not isinstance(data, dict) or not data:
        raise ContractError("ruobr user/: expected a JSON object")
    if data.get("status") == "applicant" or "childs" in data:
        return parse_list(Child, data.get("childs") or [], what="user/ childs")
    return parse_list(Child, [data], what="user/")
