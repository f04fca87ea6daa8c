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
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

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
_reported: set[tuple[str, str]] = set()

M = TypeVar("M", bound="Wire")


class Wire(BaseModel):
    """Base of every payload model: keeps unknown fields for drift reporting."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: Documented fields (note, WIRE.md) the connector does not use: not drift.
    KNOWN: ClassVar[frozenset[str]] = frozenset()


class Bad(BaseModel):
    """A record that failed validation: where, why (pydantic's message without the input) and
    the raw item."""

    model_config = ConfigDict(frozen=True)

    model: str
    field: str
    reason: str
    raw: Any = None

    def item_id(self, key: str = "id") -> str:
        if isinstance(self.raw, dict):
            value = self.raw.get(key)
            if isinstance(value, int | str) and str(value).strip():
                return str(value)
        return "?"


def _bad_from(model: type[BaseModel], raw: Any, exc: ValidationError) -> Bad:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(record)"
    return Bad(model=model.__name__, field=loc, reason=first["msg"], raw=raw)


def _lenient(model: type[BaseModel]) -> BeforeValidator:
    """Validate list items one by one; failures become :class:`Bad` placeholders."""

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


_DMY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _day(value: Any) -> Any:
    """``YYYY-MM-DD`` | ``YYYY-MM-DDTHH:MM:SS`` | ``YYYY-MM-DD HH:MM:SS`` | ``DD.MM.YYYY``."""
    if isinstance(value, str):
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


# --- parsing -------------------------------------------------------------------------------------


def _report_drift(obj: BaseModel) -> None:
    extra = obj.model_extra or {}
    name = type(obj).__name__
    known = type(obj).KNOWN if isinstance(obj, Wire) else frozenset()
    new = sorted(k for k in extra if k not in known and (name, k) not in _reported)
    if new:
        _reported.update((name, k) for k in new)
        _log.warning("ruobr schema drift: unknown fields", model=name, fields=new)
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
            f"ruobr {what}: unexpected response shape ({bad.field}: {bad.reason})"
        ) from None
    _report_drift(obj)
    return obj


def parse_list(model: type[M], data: Any, *, what: str) -> list[M | Bad]:
    """Validate a top-level JSON array item by item."""
    if not isinstance(data, list):
        raise ContractError(f"ruobr {what}: expected a JSON array")
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


def parse_user(data: Any) -> list[Child | Bad]:
    """``user/`` → the account's pupils: the object itself for ``status: "child"``, ``childs``
    for a parent (``status: "applicant"``)."""
    if not isinstance(data, dict) or not data:
        raise ContractError("ruobr user/: expected a JSON object")
    if data.get("status") == "applicant" or "childs" in data:
        return parse_list(Child, data.get("childs") or [], what="user/ childs")
    return parse_list(Child, [data], what="user/")


def reset_drift_reports() -> None:
    """Forget what was reported (tests)."""
    _reported.clear()
