"""Pydantic models of КИАСУО's own payloads (WIRE.md), not of the canonical journal.

Two tolerances, both deliberate:

* **Unknown fields** are kept (``extra="allow"``) and reported once per model as *schema drift*
  (names only): the platform renamed fields in 2025-01 and will again.
* **One bad record does not sink its response.** Record lists (children, periods, subjects,
  slots, lessons, homework) are parsed item by item; an item that fails validation becomes a
  :class:`Bad` placeholder the mapping quarantines, while its siblings go on. A broken
  *container* (no ``schedule`` list at all) fails the whole call as a ContractError.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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
_reported: set[tuple[str, str]] = set()

M = TypeVar("M", bound="Wire")


class Wire(BaseModel):
    """Base of every platform payload model: keeps unknown fields for drift reporting."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    #: Documented fields (note, WIRE.md) the connector does not use: not drift.
    KNOWN: ClassVar[frozenset[str]] = frozenset()


class Bad(BaseModel):
    """A record that failed validation: where (``field``), why (``reason``) and the raw item.

    ``reason`` is pydantic's message without the input value, so it can be logged.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    field: str
    reason: str
    raw: Any = None

    def item_id(self) -> str:
        if isinstance(self.raw, dict):
            for key in ("id", "lesson_event_id"):
                value = self.raw.get(key)
                if isinstance(value, int | str) and str(value).strip():
                    return str(value)
        return "?"


def _bad_from(model: type[BaseModel], raw: Any, exc: ValidationError) -> Bad:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(record)"
    return Bad(model=model.__name__, field=loc, reason=first["msg"], raw=raw)


def _lenient(model: type[BaseModel]) -> BeforeValidator:
    """Validate list items one by one, turning failures into :class:`Bad` placeholders."""

    def split(value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            return value  # a non-list container is a contract break: let pydantic fail it
        out: list[Any] = []
        for item in value:
            try:
                out.append(model.model_validate(item))
            except ValidationError as exc:
                out.append(_bad_from(model, item, exc))
        return out

    return BeforeValidator(split)


def _text(value: Any) -> Any:
    """Numbers where strings are documented (final marks, old ids) are taken as their text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_text)]


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


class SubjectMarks(Wire):
    KNOWN = frozenset({"color", "averages"})

    #: The subject's journal on the platform; the connector takes it as the teaching group's id
    #: (a guess: WIRE.md §lesson_marks).
    id: Text | None = None
    subject: str
    slots: Annotated[list[Slot | Bad], _lenient(Slot)] = Field(default_factory=list)


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


# --- parsing ------------------------------------------------------------------------------------


def _report_drift(obj: BaseModel) -> None:
    """Log each model's unknown fields once per process (names only, never values)."""
    extra = obj.model_extra or {}
    name = type(obj).__name__
    known = type(obj).KNOWN if isinstance(obj, Wire) else frozenset()
    new = sorted(k for k in extra if k not in known and (name, k) not in _reported)
    if new:
        _reported.update((name, k) for k in new)
        _log.warning("kiasuo schema drift: unknown fields", model=name, fields=new)
    for field_name in type(obj).model_fields:
        value = getattr(obj, field_name)
        if isinstance(value, Wire):
            _report_drift(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Wire):
                    _report_drift(item)


def parse(model: type[M], data: Any, *, what: str) -> M:
    """Validate one response; a container-level failure is a broken contract."""
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        bad = _bad_from(model, None, exc)
        raise ContractError(
            f"kiasuo {what}: unexpected response shape ({bad.field}: {bad.reason})"
        ) from None
    _report_drift(obj)
    return obj


def parse_list(model: type[M], data: Any, *, what: str) -> list[M | Bad]:
    """Validate a top-level JSON array item by item (bad items become :class:`Bad`)."""
    if not isinstance(data, list):
        raise ContractError(f"kiasuo {what}: expected a JSON array")
    out: list[M | Bad] = []
    for item in data:
        try:
            obj = model.model_validate(item)
        except ValidationError as exc:
            out.append(_bad_from(model, item, exc))
            continue
        _report_drift(obj)
        out.append(obj)
    return out


def parse_recipients(data: Any, child_id: int) -> Recipients:
    """``/api/recipients`` is keyed by the child id as a JSON object key (note §4.5)."""
    if not isinstance(data, dict):
        raise ContractError("kiasuo recipients: expected a JSON object keyed by child id")
    entry = data.get(str(child_id))
    if entry is None:
        return Recipients()
    return parse(Recipients, entry, what="recipients")
