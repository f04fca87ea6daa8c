"""The ЭПОС protocol for one account: authentication, renewal, and typed endpoint calls (WIRE.md).

Transport concerns (retries, rate limits, status → error) live in :class:`core.http.HttpClient`.
This layer knows the platform: credentials go in the ``auth-token`` / ``profile-id`` headers
(plus the ``auth_token`` / ``profile_id`` cookies on the current host, as P5 sends them) and the
``pid`` query; **400 and 401 both mean "not authenticated"** (P4), so both are mapped to
``SESSION_EXPIRED`` and trigger one renewal through the account's :class:`AccountAuth` and a
replay; dates go out as ``DD.MM.YYYY`` for marks and homework and ``YYYY-MM-DD`` for the schedule.

A school pull talks to the platform as many accounts (students and parents); each account has
its own :class:`PermSession` and so its own cookie jar and headers, while all sessions share one
transport (connection pool) and the per-host limits of :mod:`core.http`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from core.errors import ContractError
from core.http import Action, HttpClient, HttpSettings

from . import schema as s
from ._auth import AccountAuth
from ._paging import PageBase, fetch_all

__all__ = ["HOSTS", "Host", "PerPage", "PermSession"]


@dataclass(frozen=True, slots=True)
class Host:
    """One of the platform's hosts and what its web client sends along (note §1.3, §2.3)."""

    name: str
    default_url: str
    #: P5 on the current host sends the token as cookies too, with Origin/Referer.
    browser_like: bool

    def headers(self, base_url: str) -> dict[str, str]:
        out = {"Accept": "application/json"}
        if self.browser_like:
            out |= {"X-Requested-With": "XMLHttpRequest", "Origin": base_url.rstrip("/")}
        return out


HOSTS: Mapping[str, Host] = {
    "current": Host("current", "https://edu-epos.permkrai.ru", browser_like=True),
    "legacy": Host("legacy", "https://school.permkrai.ru", browser_like=False),
}


@dataclass(frozen=True, slots=True)
class PerPage:
    """Page sizes the public clients use (note §3)."""

    schedule: int = 100
    marks: int = 1000
    homework: int = 200


@dataclass(slots=True)
class _Identity:
    info: s.SessionInfo
    profile: s.SessionProfile
    student_ids: list[int] = field(default_factory=list)


class PermSession:
    """One logged-in account over its own :class:`HttpClient`."""

    def __init__(
        self,
        base_url: str,
        auth: AccountAuth,
        *,
        host: Host,
        transport: httpx.AsyncBaseTransport | None,
        settings: HttpSettings,
        paging: PageBase,
        per_page: PerPage,
    ) -> None:
        self.auth = auth
        self.label = auth.label
        self.host = host
        self.base_url = base_url.rstrip("/")
        self._paging = paging
        self._per_page = per_page
        self._auth_token: str | None = None
        self._profile_id: int | None = None
        self.identity: _Identity | None = None
        self.renewals = 0
        self.http = HttpClient(
            self.base_url,
            platform="perm",
            settings=settings,
            transport=transport,
            status_actions={400: Action.SESSION_EXPIRED, 401: Action.SESSION_EXPIRED},
            headers=host.headers(self.base_url),
            reauth=self._renew,
        )

    # --- session ---------------------------------------------------------------------------------

    async def open(self) -> _Identity:
        """Authenticate and read the session (profiles); idempotent."""
        if self.identity is None:
            async with self.http.login_bound():
                await self._authenticate(renewal=False)
                self.identity = await self._read_session()
        return self.identity

    async def _renew(self) -> None:
        self.renewals += 1
        await self._authenticate(renewal=True)

    async def _authenticate(self, *, renewal: bool) -> None:
        grant = await self.auth.grant(self.http, renewal=renewal)
        self._auth_token = grant.auth_token
        if self._profile_id is None:
            self._profile_id = grant.profile_id
        self._apply_credentials()

    def _apply_credentials(self) -> None:
        assert self._auth_token is not None
        headers = self.http.client.headers
        headers["auth-token"] = self._auth_token
        if self._profile_id is not None:
            headers["profile-id"] = str(self._profile_id)
            if self.host.browser_like:
                headers["Referer"] = (
                    f"{self.base_url}/student_diary/student_diary/{self._profile_id}"
                )
        if self.host.browser_like:
            self.http.client.cookies.set("auth_token", self._auth_token)
            if self._profile_id is not None:
                self.http.client.cookies.set("profile_id", str(self._profile_id))

    async def _read_session(self) -> _Identity:
        assert self._auth_token is not None
        data = await self.http.post(
            "/lms/api/sessions", params=self._pid(), json={"auth_token": self._auth_token}
        )
        info = s.parse(s.SessionInfo, data, what="lms/api/sessions")
        if not info.profiles:
            raise ContractError("perm lms/api/sessions: the account has no profiles")
        profile = (
            next((p for p in info.profiles if p.id == self._profile_id), None)
            or next((p for p in info.profiles if p.is_default), None)
            or info.profiles[0]
        )
        if profile.id != self._profile_id:
            self._profile_id = profile.id
            self._apply_credentials()
        if profile.type == "student":
            students = [profile.id]
        elif profile.type == "parent":
            students = [c.id for c in profile.children]
        else:
            students = []
        return _Identity(info=info, profile=profile, student_ids=students)

    def _pid(self) -> dict[str, Any]:
        return {"pid": self._profile_id} if self._profile_id is not None else {}

    async def aclose(self) -> None:
        # No logout: DELETE /lms/api/sessions would also end a browser session whose token a
        # person lent us; an unused auth_token dies on its own within the hour.
        await self.http.aclose()

    # --- reads -----------------------------------------------------------------------------------

    async def academic_years(self) -> list[s.AcademicYear | s.Bad]:
        data = await self.http.get("/core/api/academic_years", params=self._pid())
        return s.parse_list(s.AcademicYear, data, what="core/api/academic_years")

    async def student_profile(self, student_id: int, year_id: int) -> s.StudentProfile:
        params = {
            **self._pid(),
            "academic_year_id": year_id,
            "with_attendance": "true",
            "with_ec_attendance": "true",
            "with_ae_attendance": "true",
            "with_parents": "false",
            "with_subjects": "true",
            "with_lesson_info": "true",
            "with_final_marks": "true",
            "with_archived_groups": "true",
        }
        data = await self.http.get(f"/core/api/student_profiles/{student_id}", params=params)
        return s.parse(s.StudentProfile, data, what="core/api/student_profiles")

    async def teacher_profiles(self, year_id: int) -> list[s.TeacherProfile | s.Bad]:
        data = await self.http.get(
            "/core/api/teacher_profiles", params={**self._pid(), "academic_year_id": year_id}
        )
        return s.parse_list(s.TeacherProfile, data, what="core/api/teacher_profiles")

    async def progress(self, student_id: int, year_id: int) -> list[s.ProgressSubject | s.Bad]:
        params = {
            "academic_year_id": year_id,
            "student_profile_id": student_id,
            "hide_half_years": "true",
            **self._pid(),
        }
        data = await self.http.get("/reports/api/progress/json", params=params)
        return s.parse_list(s.ProgressSubject, data, what="reports/api/progress/json")

    async def schedule_items(
        self, student_id: int, group_ids: Sequence[int], start: date, end: date
    ) -> list[s.ScheduleItem | s.Bad]:
        params = {
            **self._pid(),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "student_profile_id": student_id,
            "group_id": ",".join(str(g) for g in group_ids),
            "with_lesson_info": "1",
            "with_course_calendar_info": "true",
            "with_group_class_subject_info": "true",
            "with_rooms_info": "true",
        }
        items = await self._paged("/jersey/api/schedule_items", params, self._per_page.schedule)
        return s.parse_list(s.ScheduleItem, items, what="jersey/api/schedule_items")

    async def marks(self, student_id: int, start: date, end: date) -> list[s.MarkItem | s.Bad]:
        params = {
            **self._pid(),
            "created_at_from": s.format_ddmmyyyy(start),
            "created_at_to": s.format_ddmmyyyy(end),
            "student_profile_id": student_id,
        }
        items = await self._paged("/core/api/marks", params, self._per_page.marks)
        return s.parse_list(s.MarkItem, items, what="core/api/marks")

    async def homeworks(
        self, student_id: int, start: date, end: date
    ) -> list[s.StudentHomework | s.Bad]:
        params = {
            **self._pid(),
            "student_profile_id": student_id,
            "begin_date": s.format_ddmmyyyy(start),
            "end_date": s.format_ddmmyyyy(end),
        }
        items = await self._paged("/core/api/student_homeworks", params, self._per_page.homework)
        return s.parse_list(s.StudentHomework, items, what="core/api/student_homeworks")

    async def _paged(self, path: str, params: Mapping[str, Any], per_page: int) -> list[Any]:
        async def fetch(page: int) -> list[Any]:
            data = await self.http.get(path, params={**params, "page": page, "per_page": per_page})
            if not isinstance(data, list):
                raise ContractError(f"perm {path.lstrip('/')}: expected a JSON array")
            return data

        return await fetch_all(fetch, per_page, self._paging)
