"""Pydantic models of NetSchool's own payloads (WIRE.md), not of the canonical journal.

Two tolerances, both deliberate:

* **Unknown fields** are kept (``extra="allow"``) and reported once per model as *schema drift*
  through the logger: the platform adds fields between versions, and a new field must neither
  break a pull nor go unnoticed.
* **One bad record does not sink its response.** Record lists (class meetings, assignments,
  results, attendance rows, students, groups) are parsed item by item; an item that fails
  validation becomes a :class:`Bad` placeholder the mapping turns into a quarantine entry, while
  its siblings are parsed normally. A broken *container* (no ``journals`` at all) still fails the
  whole call, as a :class:`core.errors.ContractError`.

Both mechanisms are :mod:`core.platform`'s (``PayloadReader``); this module holds the models.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from core import platform
from core.logging import get_logger

__all__ = [
    "AddedAssignment",
    "AttendanceMark",
    "AttendanceReason",
    "AuthData",
    "Bad",
    "ClassInfo",
    "ClassMeeting",
    "EditAssignment",
    "JournalAssignment",
    "JournalEdit",
    "JournalResponse",
    "LoginData",
    "LoginResult",
    "MySettings",
    "PlanLesson",
    "QueuedReport",
    "QuickEditResponse",
    "ReportFilter",
    "ReportForm",
    "Result",
    "SchoolInfo",
    "StudentListItem",
    "SubjectGroup",
    "SubjectPlan",
    "TeacherRef",
    "Term",
    "Wire",
    "Year",
    "parse",
    "parse_list",
]

_log = get_logger(__name__)


class Wire(platform.PlatformModel):
    """Base of every platform payload model: keeps unknown fields for drift reporting."""

    model_config = ConfigDict(populate_by_name=True)


class Bad(platform.Bad):
    """A record that failed validation (see :class:`core.platform.Bad`); its id is under one
    of ``ID_KEYS``."""

    ID_KEYS = ("id", "studentId")


_reader = platform.PayloadReader("netschool", bad=Bad, logger=_log)
_lenient = _reader.lenient
parse = _reader.parse
parse_list = _reader.parse_list
reset_drift_reports = _reader.reset_drift_reports


def _day(value: Any) -> Any:
    """``YYYY-MM-DDT00:00:00`` (naive local, note §3.2) → the date; ``0001-01-01`` = no date."""
    if isinstance(value, str) and "T" in value:
        value = value.split("T", 1)[0]
    if value in ("0001-01-01", ""):
        return None
    return value


Day = Annotated[date, BeforeValidator(_day)]
OptDay = Annotated[date | None, BeforeValidator(_day)]


# --- login ---------------------------------------------------------------------------------------


class LoginData(Wire):
    KNOWN = frozenset(
        {
            "productName",
            "cacheVer",
            "emLogin",
            "esiaLogin",
            "esiaButton",
            "signatureLogin",
            "windowsAuth",
            "enableSms",
            "esaLogin",
            "esiaLoginPage",
            "esaLoginPage",
        }
    )

    version: str = ""
    schoolLogin: bool = True
    esiaMainAuth: bool = False


class AuthData(Wire):
    """``auth/getdata``; all three are missing on ESIA-only installations (note §7.1)."""

    lt: str | None = None
    ver: str | None = None
    salt: str | None = None


class SchoolInfo(Wire):
    KNOWN = frozenset({"address", "addressString", "cityId", "provinceId"})

    id: int
    name: str
    shortName: str = ""
    inn: str | None = None
    ogrn: str | None = None


class LoginUser(Wire):
    id: int
    name: str = ""


class AccountInfo(Wire):
    KNOWN = frozenset(
        {
            "activeToken",
            "secureActiveToken",
            "currentOrganization",
            "userRoles",
            "organizations",
            "loginTime",
            "active",
            "canLogin",
            "storeTokens",
            "accessToken",
        }
    )

    user: LoginUser | None = None


class LoginResult(Wire):
    KNOWN = frozenset(
        {"code", "accessToken", "refreshToken", "tokenType", "requestData", "errorMessage"}
    )

    at: str | None = None
    timeOut: int | None = None
    accountInfo: AccountInfo | None = None
    entryPoint: str | None = None
    message: str | None = None


class MySettings(Wire):
    """``mysettings``: the logged-in user's own name (the pulling account is staff)."""

    KNOWN = frozenset(
        {
            "loginName",
            "birthDate",
            "roles",
            "schoolyearId",
            "windowsAccount",
            "mobilePhone",
            "preferedCom",
            "email",
            "existsPhoto",
            "userSettings",
        }
    )

    userId: int
    firstName: str = ""
    lastName: str = ""
    middleName: str | None = None


# --- roster --------------------------------------------------------------------------------------


class Year(Wire):
    id: int
    name: str = ""
    startDate: Day
    endDate: Day


class Term(Wire):
    id: int
    name: str
    startDate: Day
    endDate: Day


class ClassInfo(Wire):
    id: int
    name: str


class TeacherRef(Wire):
    id: int
    name: str


class SubjectGroup(Wire):
    id: int
    name: str = ""
    subjectName: str
    subjectId: int | None = None
    classId: int
    subgroup: int = 0
    teachers: Annotated[list[TeacherRef | Bad], _lenient(TeacherRef)] = Field(default_factory=list)


class StudentListItem(Wire):
    id: int
    fullName: str
    free: bool = False
    individualEduc: bool = False


class AttendanceReason(Wire):
    mark: str
    name: str = ""


# --- journal -------------------------------------------------------------------------------------


class Result(Wire):
    studentId: int
    # Always sent, ``null`` for an empty cell or a «точка» (note §6.2: `results:[{studentId,
    # mark, duty}]`): an absent key is a renamed or dropped field, never "no mark", so the
    # result is malformed (quarantined, its last good version kept) instead of read as empty.
    mark: int | None
    duty: bool = False


class JournalAssignment(Wire):
    id: int
    typeId: int
    assignmentName: str = ""
    weight: int = 0
    dueDate: OptDay = None
    results: Annotated[list[Result | Bad], _lenient(Result)] = Field(default_factory=list)


class AttendanceMark(Wire):
    studentId: int
    reason: str = ""


class ClassMeeting(Wire):
    id: int
    date: Day
    number: int
    relay: int = 1
    startTime: str | None = None
    endTime: str | None = None
    readOnly: bool = False
    teacherId: int | None = None
    lessonId: int | None = None
    lessonName: str | None = None
    # ``assignments`` may be absent or null (note §4.4): both read as "none".
    assignments: Annotated[list[JournalAssignment | Bad], _lenient(JournalAssignment)] = Field(
        default_factory=list
    )
    attendance: Annotated[list[AttendanceMark | Bad], _lenient(AttendanceMark)] = Field(
        default_factory=list
    )


class JournalStudent(Wire):
    id: int
    fullName: str = ""
    free: bool = False


class Journal(Wire):
    KNOWN = frozenset({"lastAccess"})

    subjectGroupId: int
    students: Annotated[list[JournalStudent | Bad], _lenient(JournalStudent)] = Field(
        default_factory=list
    )
    classMeeting: Annotated[list[ClassMeeting | Bad], _lenient(ClassMeeting)] = Field(
        default_factory=list
    )


class JournalResponse(Wire):
    KNOWN = frozenset({"editLimit", "markSettings"})

    journals: list[Journal]
    lastEditCmId: int | None = None


class EditAssignment(Wire):
    id: int
    name: str = ""
    typeId: int
    weight: int = 0
    dueDate: OptDay = None
    results: Annotated[list[Result | Bad], _lenient(Result)] = Field(default_factory=list)


class JournalEdit(Wire):
    KNOWN = frozenset({"moduleQA"})

    assignments: Annotated[list[EditAssignment | Bad], _lenient(EditAssignment)] = Field(
        default_factory=list
    )
    attendance: Annotated[list[AttendanceMark | Bad], _lenient(AttendanceMark)] = Field(
        default_factory=list
    )
    lessonId: int | None = None
    lessonName: str | None = None


class PlanLesson(Wire):
    KNOWN = frozenset({"hours", "hoursStudied", "lastStudyDay", "homeAssignment"})

    id: int
    lessonName: str
    displayName: str = ""


class SubjectPlan(Wire):
    KNOWN = frozenset({"variantsExists"})

    subjectPlanId: int | None = None
    lessons: Annotated[list[PlanLesson | Bad], _lenient(PlanLesson)] = Field(default_factory=list)


class AddedAssignment(Wire):
    assignmentId: int
    assignmentName: str = ""


class QuickEditResult(Wire):
    cmId: int
    assignId: int
    studentId: int


class QuickEditResponse(Wire):
    results: list[QuickEditResult] = Field(default_factory=list)


# --- reports (note §4.11): read with a family (student/parent) account ------------------------


class ReportFilterItem(Wire):
    title: str = ""
    value: Annotated[str, BeforeValidator(str)]


class ReportFilter(Wire):
    """One of a report form's ``filterSources``: values are strings (note §4.11)."""

    filterId: str
    items: list[ReportFilterItem] = Field(default_factory=list)
    defaultValue: Annotated[str | None, BeforeValidator(lambda v: v if v is None else str(v))] = (
        None
    )


class ReportForm(Wire):
    filterSources: list[ReportFilter]


class QueuedReport(Wire):
    """``POST reports/{name}/queue`` → ``{taskId, queueKey}`` (``queueKey`` on new servers)."""

    taskId: int
    queueKey: str | None = None
