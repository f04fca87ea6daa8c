"""State, credentials check and code tables of the Ruobr emulator.

The emulator keeps no sessions (api3d has none): every request is authenticated from its
``username``/``password`` headers (base64 of UTF-8; the login compared upper-cased).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Literal

from starlette.requests import Request

from connectors.sandbox.faults import Faults
from connectors.sandbox.world import GroupInfo, LessonInfo, PersonInfo, SchoolInfo, World
from core.codes import AttendanceCode, MarkValue

__all__ = [
    "ATTENDANCE_CODES",
    "MARK_TEXT",
    "BadCredentials",
    "EmulatorState",
    "NoSuccess",
    "RuobrEmulatorOptions",
]

# How the platform prints canonical values (emulator side; the connector has its own tables).
MARK_TEXT: dict[MarkValue, str] = {
    **{MarkValue(str(n)): str(n) for n in range(1, 6)},
    MarkValue.PASS: "зач",
    MarkValue.FAIL: "незач",
    MarkValue.EXEMPT: "осв",
    MarkValue.NOT_ATTESTED: "н/а",
    MarkValue.DOT: ".",  # [guess] no «точка» mark was observed on Ruobr (note §5.1)
}
ATTENDANCE_CODES: dict[AttendanceCode, str] = {
    AttendanceCode.ABSENT: "Н",  # evidenced (legacy attendance/)
    AttendanceCode.EXCUSED: "УП",  # evidenced
    AttendanceCode.ILL: "Б",  # [guess]
    AttendanceCode.LATE: "ОП",  # [guess]
    AttendanceCode.RELEASED: "ОСВ",  # [guess]
}


@dataclass
class RuobrEmulatorOptions:
    """Switchable platform behaviours (note §8)."""

    #: QRATOR: 403 HTML for a non-browser User-Agent (anything not starting with "Mozilla/").
    qrator: bool = True
    #: HTTP status of the `{"success": false, "error_type": "auth"}` answer (200 on the platform;
    #: 401/403 are the variants the note asks to switch to).
    auth_failure_status: int = 200
    #: Date format of `task[].deadline` (drifted in 2026, note §7.2).
    deadline_format: Literal["date", "datetime", "dmy"] = "date"
    #: `school` as «69-МБОУ …» (a number prefix some schools show, note §4.2).
    school_number_prefix: bool = False
    #: Leave out `balance`, `tourniquet`, `mau_balance` from `user/` (some schools, note §4.2).
    omit_optional_user_fields: bool = False
    #: The next N authenticated requests answer `{"success": false, "error": …}` with HTTP 200
    #: (the "success:false bursts" of note §8).
    success_false: int = 0
    #: Files linked from a homework's HTML: assignment ext id → [(file name, url)].
    homework_files: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


class BadCredentials(Exception):
    """→ ``{"success": false, "error_type": "auth"}``."""


class NoSuccess(Exception):
    """→ ``{"success": false, "error": <message>}`` with HTTP 200."""


def _decode(value: str | None) -> str | None:
    if not value:
        return None
    return _b64(value)


@lru_cache(maxsize=4096)
def _b64(value: str) -> str | None:
    """Base64 of UTF-8 → the text, ``None`` when it is not; cached because every request
    carries its account's same two headers (a pure function of the header's value)."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


_LESSON_ORDER = attrgetter("day", "number", "ext_id")


@dataclass
class EmulatorState:
    world: World
    faults: Faults
    options: RuobrEmulatorOptions
    _logins: dict[str, int] = field(default_factory=dict)
    _indexed: int = -1

    # -- accounts ----------------------------------------------------------------------------

    def _index(self) -> None:
        if self._indexed != len(self.world.persons):
            self._logins = {
                p.login.upper(): p.ext_id for p in self.world.persons.values() if p.login
            }
            self._indexed = len(self.world.persons)

    def account(self, request: Request) -> PersonInfo:
        """The person whose credentials the request carries, or :class:`BadCredentials`."""
        login = _decode(request.headers.get("username"))
        password = _decode(request.headers.get("password"))
        if login is None or password is None:
            raise BadCredentials
        self._index()
        pid = self._logins.get(login.upper())
        person = self.world.persons.get(pid) if pid is not None else None
        if person is None or person.login.upper() != login.upper():
            self._indexed = -1  # logins may have been edited: re-index and try once more
            self._index()
            pid = self._logins.get(login.upper())
            person = self.world.persons.get(pid) if pid is not None else None
        if person is None or person.password != password:
            raise BadCredentials
        if self.options.success_false > 0:
            self.options.success_false -= 1
            raise NoSuccess("Внутренняя ошибка сервера")
        return person

    def pupils(self, account: PersonInfo) -> list[PersonInfo]:
        """The pupils an account sees: itself (student) or its children (guardian)."""
        if account.role == "student":
            return [account]
        if account.role == "guardian":
            return [self.world.persons[c] for c in account.children]
        return []  # [guess] staff accounts have no diary in api3d: an empty `childs`

    def child(self, request: Request) -> PersonInfo:
        """The pupil named by ``child=`` (one of the account's), else :class:`NoSuccess`."""
        account = self.account(request)
        raw = request.query_params.get("child", "")
        pupils = self.pupils(account)
        if not raw and len(pupils) == 1:
            return pupils[0]
        for p in pupils:
            if str(p.ext_id) == raw.strip():
                return p
        raise NoSuccess("Ребенок не найден")

    # -- world queries -----------------------------------------------------------------------

    def school_of(self, person: PersonInfo) -> SchoolInfo:
        return self.world.schools[person.school]

    def groups_of(self, pupil: PersonInfo, subject_id: int | None = None) -> list[GroupInfo]:
        """The pupil's groups (of one subject: ``all_marks`` asks per subject)."""
        return self.world.groups_of_student(pupil.ext_id, subject_id)

    def lessons_of(
        self,
        pupil: PersonInfo,
        start: date,
        end: date,
        subject_id: int | None = None,
        *,
        groups: list[GroupInfo] | None = None,
    ) -> list[LessonInfo]:
        """The pupil's lessons in ``start``–``end`` (of one subject), by day, number and id;
        ``groups``: the pupil's groups when the caller has them already."""
        lessons = self.world.lessons
        out = [
            le
            for g in (self.groups_of(pupil) if groups is None else groups)
            if subject_id is None or g.subject_id == subject_id
            for lid in g.lesson_ids
            if start <= (le := lessons[lid]).day <= end
        ]
        out.sort(key=_LESSON_ORDER)
        return out

    def subjects_of(self, pupil: PersonInfo) -> list[tuple[int, str]]:
        seen: dict[int, str] = {}
        for g in self.groups_of(pupil):
            seen.setdefault(g.subject_id, self.world.subjects[g.subject_id].name)
        return list(seen.items())

    def division_str(self, group: GroupInfo) -> str:
        """[guess] the subject for a whole-class group, «<subject>, N подгруппа» for a subgroup."""
        name = self.world.subjects[group.subject_id].name
        return f"{name}, {group.subgroup} подгруппа" if group.subgroup else name
