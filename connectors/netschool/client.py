"""The NetSchool protocol: the login sequence, re-login, and typed endpoint calls (WIRE.md).

Transport concerns (retries, rate limits, status → error) live in :class:`core.http.HttpClient`;
this layer knows what the platform expects: the order of the login calls, the single-use salt,
the ``at`` header, what a 409 on login means, which paths take which parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import httpx

from core.connector import Credentials
from core.errors import (
    AuthError,
    ContractError,
    JournalSyncError,
    NotFound,
    Retriable,
    ServerError,
    SessionExpired,
)
from core.http import Action, HttpClient, HttpSettings
from core.logging import get_logger, register_secret

from . import schema as s
from ._hash import SaltedPasswordHash
from ._hub import run_report_task

__all__ = ["LOGIN_ATTEMPTS", "NetSchoolClient", "pick_school"]

_log = get_logger(__name__)
LOGIN_ATTEMPTS = 3
_API = "/webapi"


def pick_school(candidates: Sequence[s.SchoolInfo], wanted: str) -> s.SchoolInfo:
    """The school a search result means (note §2.1): exact ``shortName``, else ``name`` up to
    " (" (names carry the city in parentheses), else the only result."""
    want = wanted.strip().casefold()
    for c in candidates:
        if c.shortName.strip().casefold() == want:
            return c
    for c in candidates:
        if c.name.split(" (", 1)[0].strip().casefold() == want:
            return c
    for c in candidates:
        if c.name.strip().casefold() == want:
            return c
    if len(candidates) == 1:
        return candidates[0]
    raise NotFound(
        f"netschool: no school matches {wanted!r} ({len(candidates)} search results)",
        hint="set platform_school to the school's short name exactly as NetSchool shows it",
    )


class NetSchoolClient:
    """One logged-in NetSchool session over one :class:`HttpClient`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        school_name: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        settings: HttpSettings = HttpSettings(),  # noqa: B008 — frozen
    ) -> None:
        if not credentials.login or not credentials.password:
            raise AuthError("netschool: a login and a password are required")
        register_secret(credentials.password)
        self._base_url = base_url.rstrip("/")
        self._login = credentials.login
        self._hash = SaltedPasswordHash(credentials.password)
        self._school_name = school_name
        self.school: s.SchoolInfo | None = None
        self.at: str | None = None
        self.user_id: int | None = None
        self.logins = 0  # successful logins, for tests and the run summary
        self.http = HttpClient(
            base_url.rstrip("/"),
            platform="netschool",
            settings=settings,
            transport=transport,
            # 409 is the platform's "bad credentials" answer on login; login reads it itself.
            status_actions={409: Action.OK},
            headers={"Referer": base_url, "X-Requested-With": "XMLHttpRequest"},
            reauth=self._relogin,
        )

    # --- session ---------------------------------------------------------------------------------

    async def login(self) -> s.LoginResult:
        """The whole sequence; a transient failure re-runs it all, as the salt is single-use."""
        last: Retriable | None = None
        async with self.http.login_bound():  # every attempt within one login deadline
            for _ in range(LOGIN_ATTEMPTS):
                try:
                    return await self._login_once()
                except Retriable as exc:
                    last = exc
                    _log.info("netschool login attempt failed, retrying", error=type(exc).__name__)
        assert last is not None
        raise last

    async def _relogin(self) -> None:
        _log.info("netschool session expired; logging in again")
        await self.login()

    async def _login_once(self) -> s.LoginResult:
        self.http.client.headers.pop("at", None)
        info = s.parse(
            s.LoginData, await self.http.get(f"{_API}/logindata", reauth=False), what="logindata"
        )
        if info.esiaMainAuth and not info.schoolLogin:
            raise AuthError(
                "netschool: this installation only allows Gosuslugi (ESIA) login",
                hint="password login is disabled by the region; no API login is possible",
            )
        auth = s.parse(
            s.AuthData,
            await self.http.post(f"{_API}/auth/getdata", content=b"", reauth=False),
            what="auth/getdata",
        )
        if not (auth.lt and auth.ver and auth.salt):
            raise AuthError(
                "netschool: the server gave no login salt (an ESIA-only installation?)",
                hint="password login seems disabled for this region",
            )
        if self.school is None:
            found = s.parse_list(
                s.SchoolInfo,
                await self.http.get(
                    f"{_API}/schools/search", params={"name": self._school_name}, reauth=False
                ),
                what="schools/search",
            )
            self.school = pick_school(
                [c for c in found if isinstance(c, s.SchoolInfo)], self._school_name
            )
        form = {
            "LoginType": "1",
            "scid": str(self.school.id),
            "UN": self._login,
            **self._hash.form_fields(auth.salt),
            "lt": auth.lt,
            "ver": auth.ver,
        }
        register_secret(form["pw2"])
        register_secret(form["PW"])
        response: httpx.Response = await self.http.post(
            f"{_API}/login", data=form, expect="response", retry=False, reauth=False
        )
        if response.status_code == 409:
            raise AuthError(f"netschool rejected the login: {_message(response)}")
        result = s.parse(s.LoginResult, _json(response), what="login")
        if not result.at:
            # 2020-era servers answer 200 with a message and no token (note §7.1).
            raise AuthError(f"netschool rejected the login: {result.message or 'no token'}")
        register_secret(result.at)
        self.at = result.at
        self.user_id = (
            result.accountInfo.user.id if result.accountInfo and result.accountInfo.user else None
        )
        self.http.client.headers["at"] = result.at
        if result.entryPoint and "securitywarning" in result.entryPoint.lower():
            await self._acknowledge_security_warning(result.at)
        self.logins += 1
        return result

    async def _acknowledge_security_warning(self, at: str) -> None:
        """The "weak password" interstitial (note §2.4): until it is acknowledged the server
        answers API calls with an HTML stub, so acknowledge it the way the browser does."""
        await self.http.post(
            "/asp/SecurityWarning.asp",
            data={"at": at, "WarnType": "2"},
            expect="text",
            reauth=False,
        )

    async def session_expired(self) -> bool:
        """``context/expired?token=`` (``true`` = expired); a cheap check before long work."""
        if self.at is None:
            return True
        value = await self.http.get(
            f"{_API}/context/expired", params={"token": self.at}, reauth=False
        )
        return bool(value)

    async def logout(self) -> None:
        if self.at is None:
            return
        try:
            await self.http.post(
                f"{_API}/auth/logout", content=b"", retry=False, reauth=False, expect="response"
            )
        except SessionExpired:
            pass  # already out: the platform answers 401 (note §2.6)
        except JournalSyncError as exc:
            _log.info("netschool logout failed; closing anyway", error=type(exc).__name__)
        self.at = None
        self.http.client.headers.pop("at", None)

    async def aclose(self) -> None:
        try:
            await self.logout()
        finally:
            await self.http.aclose()

    # --- reads -----------------------------------------------------------------------------------

    async def my_settings(self) -> s.MySettings:
        data = await self.http.get(f"{_API}/mysettings")
        return s.parse(s.MySettings, data, what="mysettings")

    async def current_year(self) -> s.Year:
        return s.parse(s.Year, await self.http.get(f"{_API}/years/current"), what="years/current")

    async def terms(self, start: date, end: date, class_ids: Sequence[int]) -> list[s.Term | s.Bad]:
        body = {
            "startPeriod": start.isoformat(),
            "endPeriod": end.isoformat(),
            "classIds": list(class_ids),
        }
        data = await self.http.post(f"{_API}/terms/search", json=body)
        return s.parse_list(s.Term, data, what="terms/search")

    async def teacher_classes(self) -> list[s.ClassInfo | s.Bad]:
        data = await self.http.get(f"{_API}/users/teacher/classes")
        return s.parse_list(s.ClassInfo, data, what="users/teacher/classes")

    async def subject_groups(self, class_id: int) -> list[s.SubjectGroup | s.Bad]:
        data = await self.http.get(f"{_API}/subjectgroups", params={"classId": class_id})
        return s.parse_list(s.SubjectGroup, data, what="subjectgroups")

    async def student_list(self, sg_id: int, term_id: int) -> list[s.StudentListItem | s.Bad]:
        data = await self.http.get(
            f"{_API}/grade/studentList", params={"sgid": sg_id, "termId": term_id}
        )
        return s.parse_list(s.StudentListItem, data, what="grade/studentList")

    async def attendance_reasons(self) -> list[s.AttendanceReason | s.Bad]:
        data = await self.http.get(f"{_API}/grade/attendance/reasons")
        return s.parse_list(s.AttendanceReason, data, what="grade/attendance/reasons")

    async def journal(
        self, *, year_id: int, class_id: int, sg_id: int, term_id: int
    ) -> s.JournalResponse:
        params = {
            "yearId": year_id,
            "classId": class_id,
            "grade": -1,
            "sgId": sg_id,
            "termId": term_id,
        }
        data = await self.http.get(f"{_API}/grade/journal", params=params)
        return s.parse(s.JournalResponse, data, what="grade/journal")

    async def journal_edit(self, *, cm_id: int, sg_id: int, term_id: int) -> s.JournalEdit:
        params = {"cmid": cm_id, "sgId": sg_id, "termId": term_id}
        data = await self.http.get(f"{_API}/grade/journal/edit", params=params)
        return s.parse(s.JournalEdit, data, what="grade/journal/edit")

    async def subject_plan(self, sg_id: int) -> s.SubjectPlan:
        data = await self.http.get(
            f"{_API}/subjectplans/getForSubjectGroup", params={"sgId": sg_id}
        )
        return s.parse(s.SubjectPlan, data, what="subjectplans/getForSubjectGroup")

    # --- reports (family accounts: note §4.11) ------------------------------------------------

    async def report_form(self, name: str) -> s.ReportForm:
        data = await self.http.get(f"{_API}/reports/{name}")
        return s.parse(s.ReportForm, data, what=f"reports/{name}")

    async def report_filters(
        self, name: str, selected: Mapping[str, str]
    ) -> list[s.ReportFilter | s.Bad]:
        """``POST v2/reports/{name}/initfilters``: the form's sources for these choices."""
        body = {"params": None, "selectedData": _selected(selected)}
        data = await self.http.post(f"{_API}/v2/reports/{name}/initfilters", json=body)
        return s.parse_list(s.ReportFilter, data, what=f"reports/{name}/initfilters")

    async def run_report(self, name: str, selected: Mapping[str, str], *, timeout: float) -> str:
        """Queue a report, wait for it over the queue hub, download it: the report's HTML."""
        assert self.at is not None  # logged in
        at = self.at
        try:  # what IRTech's web client asks before using the hub; optional (S3)
            await self.http.get(
                f"{_API}/earlyaccess", params={"accessKey": "irtechsignalr"}, retry=False
            )
        except JournalSyncError as exc:
            _log.info("netschool earlyaccess failed; going on", error=type(exc).__name__)

        async def queue() -> tuple[int, str | None]:
            body = {"selectedData": _selected(selected)}
            data = await self.http.post(f"{_API}/reports/{name}/queue", json=body)
            task = s.parse(s.QueuedReport, data, what=f"reports/{name}/queue")
            return task.taskId, task.queueKey

        cookies = "; ".join(f"{k}={v}" for k, v in self.http.client.cookies.items())
        headers = {"Origin": self._base_url, **({"Cookie": cookies} if cookies else {})}
        file_id = await run_report_task(self._base_url, at, headers, queue, timeout=timeout)
        text = await self.http.get(f"{_API}/files/{file_id}", expect="text")
        return str(text)

    # --- writes ----------------------------------------------------------------------------------

    async def quickedit(
        self, sg_id: int, results: Sequence[Mapping[str, Any]]
    ) -> s.QuickEditResponse:
        body = {"sgId": sg_id, "results": list(results), "attendance": []}
        # A row without assignId makes the server create an assignment: sent again after an
        # answer lost on the way back, it would create a second one and the mark would be
        # there twice (found by the soak). Such a request is sent once; the push engine retries
        # the change later, after reading the lesson back (the mark is there, or it is not).
        creates = any(r.get("assignId") is None for r in results)
        data = await self.http.post(f"{_API}/grade/journal/quickedit", json=body, retry=not creates)
        return s.parse(s.QuickEditResponse, data, what="grade/journal/quickedit")

    async def save_lesson(
        self,
        *,
        sg_id: int,
        cm_id: int,
        lesson_id: int = -2,
        attendance: Sequence[tuple[int, str]] | None = None,
    ) -> Any:
        """``POST grade/journal/edit``: bind a КТП lesson (``-2`` = unchanged, ``-1`` = none)
        and, when ``attendance`` is given, save every listed row (``""`` = present)."""
        form: dict[str, Any] = {"sgid": str(sg_id), "cmid": str(cm_id), "lessonId": str(lesson_id)}
        if attendance is not None:
            form["saveJournal"] = "1"
            form["SID"] = [str(sid) for sid, _ in attendance]
            form["REASON"] = [reason for _, reason in attendance]
        return await self.http.post(f"{_API}/grade/journal/edit", data=form)

    async def add_assignment(self, *, sg_id: int, cm_id: int, type_id: int, name: str) -> int:
        """``POST grade/journal/edit`` with ``RegimeAddAssign=1``: a new assignment of
        ``type_id`` on the lesson, without marks (note §6.2 p. 4); its id. Sent once (a resend
        after a lost answer would make a second one)."""
        form = {
            "sgid": str(sg_id),
            "cmid": str(cm_id),
            "lessonId": "-2",
            "RegimeAddAssign": "1",
            "AN": name,
            "AType": str(type_id),
        }
        data = await self.http.post(f"{_API}/grade/journal/edit", data=form, retry=False)
        made = s.parse(s.AddedAssignment, data, what="grade/journal/edit (new assignment)")
        return made.assignmentId


def _selected(selected: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"filterId": k, "filterValue": v} for k, v in selected.items()]


def _message(response: httpx.Response) -> str:
    """The platform's own failure text, which names no secret (it is shown to the user)."""
    try:
        data = response.json()
    except (ValueError, RecursionError):  # the stdlib decoder recurses per level (fuzzing)
        return f"HTTP {response.status_code}"
    if isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]:
        return str(data["message"])
    return f"HTTP {response.status_code}"


def _json(response: httpx.Response) -> Any:
    if "html" in response.headers.get("content-type", "").lower():
        # A firewall or maintenance page: transient as far as we can tell; login re-runs.
        raise ServerError(f"netschool login answered HTML (HTTP {response.status_code})")
    try:
        return response.json()
    except (ValueError, RecursionError):  # [[[… 5,000 deep: RecursionError (found by fuzzing)
        raise ContractError(
            f"netschool login answered non-JSON (HTTP {response.status_code})"
        ) from None
