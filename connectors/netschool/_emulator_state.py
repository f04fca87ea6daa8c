"""Session state and shared helpers of the NetSchool emulator.

Sessions follow note §2.2/§2.6: ``NSSESSIONID`` (cookie) holds the single-use salt; a login gives
an ``at`` token whose idle timer restarts on every authenticated call. The clock is injectable so
tests expire sessions without sleeping.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qsl

from starlette.requests import Request

from connectors.sandbox.faults import Faults
from connectors.sandbox.world import GroupInfo, LessonInfo, PersonInfo, SchoolInfo, World


@dataclass
class NetSchoolEmulatorOptions:
    """Switchable platform behaviours (note §8)."""

    session_timeout_ms: int = 900_000  # login JSON `timeOut`; idle expiry
    teacher_singular: bool = False  # assignment details carry `teacher` instead of `teachers`
    security_warning: bool = False  # login entryPoint = SecurityWarning; /webapi answers HTML
    esia_only: bool = False  # password login disabled: getdata has no lt/ver/salt
    version: str = "5.47.0"
    clock: Callable[[], float] = time.monotonic


@dataclass
class PreLogin:
    salt: str | None = None
    lt: str = ""
    ver: str = ""


@dataclass
class Login:
    at: str
    user: PersonInfo
    school: SchoolInfo
    last_seen: float
    alive: bool = True
    warning_pending: bool = False


class Unauthorized(Exception):
    """→ 401."""


class Forbidden(Exception):
    """→ 403 with a JSON message."""


class BadRequest(Exception):
    """→ 400 with a JSON message."""


class SecurityWarningPending(Exception):
    """→ the short HTML SecurityWarning stub (note §2.4)."""


@dataclass
class EmulatorState:
    world: World
    faults: Faults
    options: NetSchoolEmulatorOptions
    prelogins: dict[str, PreLogin] = field(default_factory=dict)
    logins: dict[str, Login] = field(default_factory=dict)
    #: Every write that changed the journal, in order: (entity, class meeting id, student id,
    #: assignment type code or "", the new value or "" for a removal). A client that sends one
    #: change twice (a retried POST whose answer was lost) shows up here twice.
    write_log: list[tuple[str, int, int, str, str]] = field(default_factory=list)

    # -- sessions ----------------------------------------------------------------------------

    def new_session_id(self) -> str:
        sid = secrets.token_hex(16)
        self.prelogins[sid] = PreLogin()
        return sid

    def new_login(self, user: PersonInfo, school: SchoolInfo) -> Login:
        at = "".join(secrets.choice("0123456789") for _ in range(26))
        login = Login(
            at, user, school, self.options.clock(), warning_pending=self.options.security_warning
        )
        self.logins[at] = login
        return login

    def expire_all(self) -> int:
        """Kill every login (as a server restart or an admin would); returns how many."""
        n = 0
        for login in self.logins.values():
            n += login.alive
            login.alive = False
        return n

    def lookup(self, at: str | None) -> Login | None:
        """The live login for a token (expiring it when idle too long), without touching it."""
        login = self.logins.get(at or "")
        if login is None or not login.alive:
            return None
        if (self.options.clock() - login.last_seen) * 1000 > self.options.session_timeout_ms:
            login.alive = False
            return None
        return login

    def require(self, request: Request, *, check_warning: bool = True) -> Login:
        login = self.lookup(request.headers.get("at") or request.query_params.get("at"))
        if login is None:
            raise Unauthorized
        login.last_seen = self.options.clock()
        if check_warning and login.warning_pending:
            raise SecurityWarningPending
        return login

    # -- permissions -------------------------------------------------------------------------

    def students_of(self, login: Login) -> list[PersonInfo]:
        u = login.user
        if u.role == "student":
            return [u]
        if u.role == "guardian":
            return [self.world.persons[c] for c in u.children]
        return []

    def student(self, login: Login, student_id: int) -> PersonInfo:
        for s in self.students_of(login):
            if s.ext_id == student_id:
                return s
        raise Forbidden(f"student {student_id} is not available to this user")

    def staff(self, login: Login) -> PersonInfo:
        if login.user.role not in ("teacher", "admin"):
            raise Forbidden("teacher access required")
        return login.user

    def visible_groups(self, login: Login) -> list[GroupInfo]:
        """The admin (завуч) sees the whole school; a teacher only the groups they teach."""
        u = self.staff(login)
        w = self.world
        out = []
        for cid in login.school.class_ids:
            for gid in w.classes[cid].group_ids:
                g = w.groups[gid]
                if u.role == "admin" or u.ext_id in g.teacher_ids:
                    out.append(g)
        return out

    def group(self, login: Login, group_id: int) -> GroupInfo:
        g = self.world.groups.get(group_id)
        if g is None or g.school != login.school.slug:
            raise BadRequest(f"unknown subject group {group_id}")
        u = self.staff(login)
        if u.role != "admin" and u.ext_id not in g.teacher_ids:
            raise Forbidden(f"subject group {group_id} is not available to this user")
        return g

    def lesson(self, login: Login, group: GroupInfo, cm_id: int) -> LessonInfo:
        le = self.world.lessons.get(cm_id)
        if le is None or le.group_id != group.ext_id:
            raise BadRequest(f"class meeting {cm_id} is not in subject group {group.ext_id}")
        return le


def wire_group_name(world: World, group: GroupInfo) -> str:
    """«1а/Физическая культура» as in the note's sample (§4.5); a subgroup adds « (1 гр.)» to the
    subject part [guess: no public sample names a subgroup]. Never a third ``/`` segment: clients
    that take the text after the last ``/`` as the subject then reported "1"."""
    base = f"{world.classes[group.class_id].name}/{world.subjects[group.subject_id].name}"
    return f"{base} ({group.subgroup} гр.)" if group.subgroup else base


def iso(d: date) -> str:
    return f"{d.isoformat()}T00:00:00"


def int_param(request: Request, name: str, default: int | None = None) -> int:
    """A query parameter as int; parameter names are case-insensitive (IIS)."""
    for k, v in request.query_params.multi_items():
        if k.lower() == name.lower():
            try:
                return int(v)
            except ValueError:
                raise BadRequest(f"{name} must be an integer") from None
    if default is None:
        raise BadRequest(f"{name} is required")
    return default


def str_param(request: Request, name: str) -> str | None:
    for k, v in request.query_params.multi_items():
        if k.lower() == name.lower():
            return v
    return None


def parse_day(text: str | None, name: str) -> date:
    if not text:
        raise BadRequest(f"{name} is required")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BadRequest(f"{name} must be YYYY-MM-DD") from None


async def form_items(request: Request) -> list[tuple[str, str]]:
    """An urlencoded body as (lower-cased key, value) pairs in order; repeated keys kept.

    Parsed by hand: starlette's form parser needs python-multipart, which we don't depend on.
    """
    body = (await request.body()).decode("utf-8", errors="replace")
    return [(k.lower(), v) for k, v in parse_qsl(body, keep_blank_values=True)]
