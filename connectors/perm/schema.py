"""Pydantic models of ЭПОС.Школа's own payloads (WIRE.md), not of the canonical journal.

Two tolerances, both deliberate (as in every connector):

* **Unknown fields** are kept (``extra="allow"``) and reported once per model as *schema drift*
  through the logger, names only.
* **One bad record does not sink its response.** Top-level arrays (marks, schedule items,
  homework, progress subjects, teacher profiles) and the record lists inside a student profile
  are parsed item by item; a failing item becomes a :class:`Bad` placeholder that the mapping
  quarantines. A response of the wrong shape altogether is a :class:`core.errors.ContractError`.

Dates come in three spellings (note §3): ``DD.MM.YYYY`` (mark and homework filters, homework
dates), ``YYYY-MM-DD`` / ISO date-times, and int arrays ``[2022, 11, 21]`` (1-based month) in
schedule items. :data:`Day` accepts all three.

Both mechanisms are :mod:`core.platform`'s (``PayloadReader``); this module holds the models.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from core import platform
from core.logging import get_logger

__all__ = [
    "AcademicYear",
    "AttachmentInfo",
    "AttendanceRow",
    "AuthenticateResponse",
    "Bad",
    "ChildRef",
    "ClassUnitRef",
    "GroupRef",
    "HomeworkEntry",
    "HomeworkInfo",
    "IdRef",
    "MarkItem",
    "ProgressPeriod",
    "ProgressSubject",
    "ScheduleItem",
    "SessionInfo",
    "SessionProfile",
    "StudentHomework",
    "StudentProfile",
    "TeacherProfile",
    "Wire",
    "format_ddmmyyyy",
    "parse",
    "parse_day",
    "parse_list",
]

_log = get_logger(__name__)


_DMY = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


def format_ddmmyyyy(day: date) -> str:
    """The ``DD.MM.YYYY`` spelling of mark and homework filters."""
    return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


def parse_day(value: Any) -> date | None:
    """``DD.MM.YYYY``, ``YYYY-MM-DD[T…]`` or ``[y, m, d]`` → a date; empty → ``None``.

    Raises ``ValueError`` for anything else, which pydantic reports as a field error.
    """
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, list | tuple):
        if len(value) >= 3 and all(isinstance(p, int) for p in value[:3]):
            try:
                return date(value[0], value[1], value[2])
            except OverflowError:  # pydantic reports ValueError only; this one escaped (fuzzing)
                raise ValueError("a date array out of range") from None
        raise ValueError("a date array needs [year, month, day]")
    if isinstance(value, str):
        if len(value) == 10 and value[4] == "-":  # the usual YYYY-MM-DD, read before the rest
            return date.fromisoformat(value)
        m = _DMY.match(value)
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return date.fromisoformat(value.strip()[:10])
    raise ValueError("not a date")


Day = Annotated[date, BeforeValidator(parse_day)]
OptDay = Annotated[date | None, BeforeValidator(parse_day)]


class Wire(platform.PlatformModel):
    """Base of every platform payload model: keeps unknown fields for drift reporting."""


Bad = platform.Bad


_reader = platform.PayloadReader("perm", bad=Bad, logger=_log)
_lenient = _reader.lenient
parse = _reader.parse
parse_list = _reader.parse_list
reset_drift_reports = _reader.reset_drift_reports


# --- authentication and sessions (note §2.2, §4.1) ------------------------------------------------


class Cookies(Wire):
    KNOWN = frozenset({"long_token", "aid", "is_auth", "from_sudir"})

    auth_token: str
    profile_id: int | None = None


class AuthenticateResponse(Wire):
    """``GET /authenticate`` (header ``token``): the rotated mobile token and the cookies."""

    mobile_token: str
    cookies: Cookies


class ChildRef(Wire):
    """A child listed on a parent profile [guess, WIRE.md]."""

    KNOWN = frozenset({"last_name", "first_name", "middle_name", "class_name"})

    id: int


class SessionProfile(Wire):
    KNOWN = frozenset({"roles", "subject_ids", "agree_pers_data", "org_type_id", "organization_id"})

    id: int
    type: str
    user_id: int | None = None
    school_id: int | None = None
    school_shortname: str = ""
    is_default: bool = False
    children: list[ChildRef] = Field(default_factory=list)


class SessionInfo(Wire):
    """``POST /lms/api/sessions`` (note §4.1)."""

    KNOWN = frozenset(
        {
            "authentication_token",
            "email",
            "snils",
            "guid",
            "sex",
            "password_change_required",
            "phone_number",
            "person_id",
            "regional_auth",
        }
    )

    id: int
    first_name: str = ""
    last_name: str = ""
    middle_name: str | None = None
    date_of_birth: OptDay = None
    profiles: list[SessionProfile]


class AcademicYear(Wire):
    KNOWN = frozenset({"calendar_id"})

    id: int
    name: str = ""
    begin_date: Day
    end_date: Day
    current_year: bool = False


# --- student profile (note §4.3) ------------------------------------------------------------------


class ClassUnitRef(Wire):
    KNOWN = frozenset({"class_level_id"})

    id: int
    name: str


class GroupRef(Wire):
    KNOWN = frozenset({"is_fake", "class_unit_id"})

    id: int
    name: str = ""
    subject_id: int | None = None
    subject_name: str | None = None


class AttendanceRow(Wire):
    """One row = absent («Н») at that lesson; no reason codes are known (note §5)."""

    KNOWN = frozenset({"student_profile_id"})

    schedule_lesson_id: int
    id: int | None = None


class StudentProfile(Wire):
    KNOWN = frozenset(
        {
            "user_id",
            "short_name",
            "sex",
            "school_id",
            "class_unit_id",
            "class_level",
            "curricula",
            "left_on",
            "ec_attendances",
            "ae_attendances",
            "parents",
            "subjects",
            "final_marks",
            "marks",
        }
    )

    id: int
    user_name: str = ""
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: OptDay = None
    school_id: int | None = None
    class_unit: ClassUnitRef | None = None
    enlisted_on: OptDay = None
    groups: Annotated[list[GroupRef | Bad], _lenient(GroupRef)] = Field(default_factory=list)
    attendances: Annotated[list[AttendanceRow | Bad], _lenient(AttendanceRow)] = Field(
        default_factory=list
    )


# --- schedule, marks, homework (note §4.4–4.6) ----------------------------------------------------


class IdRef(Wire):
    id: int


class ScheduleItem(Wire):
    KNOWN = frozenset(
        {
            "subject_id",
            "day_number",
            "room_name",
            "homeworks_to_verify",
            "cancelled",
            "iso_date_time",
        }
    )

    id: int
    group_id: int
    teacher_id: int | None = None
    subject_name: str = ""
    lesson_name: str | None = None
    duration: int | None = None
    date: Day
    time: list[int] | None = None
    iso_date_time: str | None = None
    study_ordinal: int
    homeworks_to_give: list[IdRef] = Field(default_factory=list)


class MarkItem(Wire):
    KNOWN = frozenset(
        {
            "created_at",
            "updated_at",
            "values",
            "grade_id",
            "is_exam",
            "group_id",
            "date",
            "subject_id",
            "grade_system_id",
            "grade_system_type",
        }
    )

    id: int
    student_profile_id: int | None = None
    teacher_id: int | None = None
    name: str
    weight: float = 1
    comment: str | None = None
    is_point: bool = False
    point_date: OptDay = None
    schedule_lesson_id: int
    control_form_id: int | None = None
    control_form_name: str | None = None


class AttachmentInfo(Wire):
    id: int | None = None
    file_file_name: str
    path: str
    file_file_size: int | None = None


class SubjectRef(Wire):
    KNOWN = frozenset({"exam_name"})

    id: int | None = None
    name: str = ""


class HomeworkInfo(Wire):
    KNOWN = frozenset({"is_class_room_job", "teacher_id", "subject_id", "created_at"})

    id: int
    date_prepared_for: OptDay = None
    date_assigned_on: OptDay = None
    group_id: int | None = None
    subject: SubjectRef | None = None


class HomeworkEntry(Wire):
    KNOWN = frozenset({"duration", "eom_urls", "student_ids", "created_at"})

    id: int
    homework_id: int | None = None
    description: str = ""
    attachments: list[AttachmentInfo] = Field(default_factory=list)
    homework: HomeworkInfo


class StudentHomework(Wire):
    KNOWN = frozenset(
        {
            "created_at",
            "homework_entry_id",
            "student_id",
            "student_name",
            "is_ready",
            "comment",
            "attachments",
        }
    )

    id: int
    homework_entry: HomeworkEntry


# --- progress report, teachers (note §4.7, §4.8) --------------------------------------------------


class ProgressPeriod(Wire):
    KNOWN = frozenset(
        {"start", "end", "avg_five", "avg_hundred", "avg_original", "marks", "is_year_mark"}
    )

    name: str
    start_iso: OptDay = None
    end_iso: OptDay = None
    final_mark: str | None = None


class ProgressSubject(Wire):
    KNOWN = frozenset({"avg_five", "avg_hundred", "avg_original"})

    subject_name: str
    subject_id: int | None = None
    periods: Annotated[list[ProgressPeriod | Bad], _lenient(ProgressPeriod)] = Field(
        default_factory=list
    )


class PersonName(Wire):
    last_name: str = ""
    first_name: str = ""
    middle_name: str | None = None


class TeacherProfile(Wire):
    KNOWN = frozenset({"user_id", "roles", "school_id", "subject_ids", "group_ids"})

    id: int
    name: str = ""
    type: str = "teacher"
    user: PersonName | None = None
    assigned_group_ids: list[int] = Field(default_factory=list)
