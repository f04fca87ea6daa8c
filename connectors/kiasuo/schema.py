"""Pydantic models of КИАСУО's own payloads (WIRE.md), not of the canonical journal.

Two tolerances, both deliberate:

* **Unknown fields** are kept (``extra="allow"``) and reported once per model as *schema drift*
  (names only): the platform renamed fields in 2025-01 and will again.
* **One bad record does not sink its response.** Record lists (children, periods, subjects,
  slots, lessons, homework) are parsed item by item; an item that fails validation becomes a
  :class:`Bad` placeholder the mapping quarantines, while its siblings go on. A broken
  *container* (no ``schedule`` list at all) fails the whole call as a ContractError.

Both mechanisms are :mod:`core.platform`'s (``PayloadReader``); this module holds the models.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from core import platform
from core.errors import ContractError
from core.logging import get_logger

__all__ = [
    "Bad",
    "Child",
    "FinalSubject",
    "HomeworkFile",
    "HomeworkItem",
    "LessonMarks",
    "MarkCell",
    "MarkType",
    "Recipients",
    "Schedule",
    "ScheduleLesson",
    "SchoolClass",
    "Slot",
    "SlotStamp",
    "StudentMarks",
    "StudentRef",
    "StudyPeriod",
    "SubjectMarks",
    "Token",
    "User",
    "Wire",
    "parse",
    "parse_list",
    "parse_recipients",
]

_log = get_logger(__name__)


class Wire(platform.PlatformModel):
    """Base of every platform payload model: keeps unknown fields for drift reporting."""

    model_config = ConfigDict(populate_by_name=True)


class Bad(platform.Bad):
    """A record that failed validation (see :class:`core.platform.Bad`); its id is under one
    of ``ID_KEYS``."""

    ID_KEYS = ("id", "lesson_event_id")


_reader = platform.PayloadReader("kiasuo", bad=Bad, logger=_log)
_lenient = _reader.lenient
parse = _reader.parse
parse_list = _reader.parse_list
reset_drift_reports = _reader.reset_drift_reports


#: Numbers where strings are documented (final marks, old ids) are taken as their text
#: (``str()`` of the number; a ``bool`` is not one), in pydantic's core: no Python per value.
Text = Annotated[str, Field(coerce_numbers_to_str=True)]


# --- auth ---------------------------------------------------------------------------------------


class Token(Wire):
    """``POST /diary/refresh`` → camelCase keys (note §2.2)."""

    accessToken: str
    refreshToken: str


# --- account ------------------------------------------------------------------------------------


class Child(Wire):
    KNOWN = frozenset({"username", "can_create_login"})

    id: int
    first_name: str = ""
    last_name: str = ""
    middle_name: str | None = None
    school_class: str = ""
    age: int | None = None


class User(Wire):
    KNOWN = frozenset({"username", "vk_id", "unread_notices_count"})

    id: int
    parent: bool | None = None
    children: Annotated[list[Child | Bad], _lenient(Child)] = Field(default_factory=list)


class SchoolClass(Wire):
    id: Text
    name: str
    ou: str = ""
    study_year: str = ""


class StudyPeriod(Wire):
    id: int
    text: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")


# --- marks --------------------------------------------------------------------------------------


class MarkCell(Wire):
    """``mark`` of a slot: ``{"value": "4/5"}``; clients allow ``{}`` (note §4.3)."""

    value: Text | None = None


class Slot(Wire):
    KNOWN = frozenset({"weight", "short_text", "remark"})

    lesson_date: date
    mark: MarkCell | None = None
    text: str | None = ""
    updated_at: datetime | None = None


class SlotStamp(Wire):
    """A slot of ``lesson_marks`` as the roster reads it: its day and when it changed. The mark
    itself is read from the week's schedule, so it is documented here, not read."""

    KNOWN = Slot.KNOWN | {"mark", "text"}

    lesson_date: date
    updated_at: datetime | None = None


class SubjectMarks(Wire):
    KNOWN = frozenset({"color", "averages"})

    #: The subject's journal on the platform; the connector takes it as the teaching group's id
    #: (a guess: WIRE.md §lesson_marks).
    id: Text | None = None
    subject: str
    slots: Annotated[list[SlotStamp | Bad], _lenient(SlotStamp)] = Field(default_factory=list)


class LessonMarks(Wire):
    lessons: Annotated[list[SubjectMarks | Bad], _lenient(SubjectMarks)]


# --- schedule -----------------------------------------------------------------------------------


class ScheduleLesson(Wire):
    KNOWN = frozenset({"color"})

    lesson_event_id: int
    subject: str
    teacher: str | None = None
    lesson_number: int
    lesson_date: date
    start: str | None = Field(default=None, alias="from")
    end: str | None = Field(default=None, alias="to")
    theme: str | None = None
    created_homework_id: int | None = None
    homework_to_check_ids: list[int] = Field(default_factory=list)
    slots: Annotated[list[Slot | Bad], _lenient(Slot)] = Field(default_factory=list)


class HomeworkFile(Wire):
    url: str = ""
    title: str = ""


class HomeworkItem(Wire):
    id: int
    lesson_date: date | None = None
    check_at: date | None = None
    text: str = ""
    files: Annotated[list[HomeworkFile | Bad], _lenient(HomeworkFile)] = Field(default_factory=list)
    links: Annotated[list[HomeworkFile | Bad], _lenient(HomeworkFile)] = Field(default_factory=list)


class Schedule(Wire):
    schedule: Annotated[list[ScheduleLesson | Bad], _lenient(ScheduleLesson)]
    homeworks: Annotated[list[HomeworkItem | Bad], _lenient(HomeworkItem)] = Field(
        default_factory=list
    )


# --- recipients ---------------------------------------------------------------------------------


class StudentRef(Wire):
    id: int | None = None
    parents: Any = None


class Recipients(Wire):
    """One child's entry of ``/api/recipients``: role → {display name → user id}, classmates."""

    staff: dict[str, dict[str, int | None]] = Field(default_factory=dict)
    students: dict[str, StudentRef] = Field(default_factory=dict)


# --- final marks --------------------------------------------------------------------------------


class FinalSubject(Wire):
    KNOWN = frozenset({"color"})

    id: Text | None = None
    subject: str
    marks: dict[str, Text | None] = Field(default_factory=dict)


class MarkType(Wire):
    id: Text
    text: str
    short_text: str = ""
    order_by: int | None = None


class StudentMarks(Wire):
    lessons: Annotated[list[FinalSubject | Bad], _lenient(FinalSubject)]
    standard_mark_type: Annotated[list[MarkType | Bad], _lenient(MarkType)] = Field(
        default_factory=list
    )


def parse_recipients(data: Any, child_id: int) -> Recipients:
    """``/api/recipients`` is keyed by the child id as a JSON object key (note §4.5)."""
    if not isinstance(data, dict):
        raise ContractError("kiasuo recipients: expected a JSON object keyed by child id")
    entry = data.get(str(child_id))
    if entry is None:
        return Recipients()
    return parse(Recipients, entry, what="recipients")
