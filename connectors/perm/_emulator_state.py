"""Tokens, sessions and request checks of the ЭПОС emulator.

* **Mobile tokens** (note §2.2): every account has a deterministic initial token
  (:func:`initial_mobile_token`, from the world's seed). ``GET /authenticate`` with a live token
  *rotates* it: the answer carries a new token and the old one is spent — using it again is
  rejected with 401, as a real client that failed to save the new token would experience.
* **Session tokens** (``auth_token``): issued by ``/authenticate`` (or :meth:`issue_auth_token`,
  standing in for a token copied from the browser); they live ``token_ttl`` seconds (about an hour,
  note §2.1/P7) on an injectable clock, and :meth:`expire_all` kills them at once. A bad or
  expired token gets ``expired_status`` (401; 400 on request — P4 treats both as unauthorized).
* The credential is the ``auth-token`` header or the ``auth_token`` cookie; the profile the
  ``profile-id`` header, the ``pid`` query or the ``profile_id`` cookie, and must be the session's
  own; ``student_profile_id`` must be the account's own student profile or a child's (else 403).
  Unknown cookies (``aid``, ``USESSION``, ``*_by_context`` …) are ignored (checklist §8.5).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from hashlib import sha256
from typing import Any

from starlette.requests import Request

from connectors.sandbox.faults import Faults
from connectors.sandbox.world import AssignmentInfo, PersonInfo, SchoolInfo, World

from ._emulator_render import homework_files

__all__ = [
    "AuthSession",
    "BadRequest",
    "EmulatorState",
    "Forbidden",
    "PermEmulatorOptions",
    "Unauthorized",
    "initial_mobile_token",
    "parse_dmy",
    "parse_iso",
]


@dataclass
class PermEmulatorOptions:
    """Switchable platform behaviours."""

    token_ttl: float = 3600.0  # auth_token life in seconds ("about an hour", P7)
    expired_status: int = 401  # answer to a bad/expired auth_token: 401, or 400
    page_base: int = 1  # first page number; a page below it is the first page too (§8.3)
    default_per_page: int = 50  # [guess] when a client sends no per_page
    max_per_page: int = 1000
    #: every fifth homework carries a derived file (``_emulator_render.homework_files``) [guess]
    homework_files: bool = True
    clock: Callable[[], float] = time.monotonic


def initial_mobile_token(world: World, person_id: int) -> str:
    """The deterministic first mobile token of an account (tests, harness, ``sandbox serve``)."""
    key = f"perm-sandbox:{world.seed}".encode()
    return hmac.new(key, f"mobile:{person_id}".encode(), sha256).hexdigest()[:40]


class Unauthorized(Exception):
    """→ ``expired_status`` (401/400)."""


class Forbidden(Exception):
    """→ 403 with a JSON message."""


class BadRequest(Exception):
    """→ 400 with a JSON message (bad parameters; clients read it as "unauthorized" too)."""


@dataclass
class AuthSession:
    token: str
    person_id: int
    issued: float
    alive: bool = True


@dataclass
class EmulatorState:
    world: World
    faults: Faults
    options: PermEmulatorOptions
    mobile: dict[str, int] = field(default_factory=dict)  # live mobile token → person id
    spent: set[str] = field(default_factory=set)  # rotated-away mobile tokens
    sessions: dict[str, AuthSession] = field(default_factory=dict)
    #: homework (assignment) id → attachment payloads a test added (besides the derived ones).
    attachments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p in self.world.persons.values():
            self.mobile[initial_mobile_token(self.world, p.ext_id)] = p.ext_id

    def files_of(self, a: AssignmentInfo) -> list[dict[str, Any]]:
        """A homework's attachments: the derived file (if on) and those a test added."""
        derived = homework_files(a) if self.options.homework_files else []
        return derived + self.attachments.get(a.ext_id, [])

    # -- tokens ------------------------------------------------------------------------------

    def rotate(self, token: str) -> tuple[str, AuthSession]:
        """Spend ``token``; return the next mobile token and a new session."""
        person = self.mobile.pop(token, None)
        if person is None:
            raise Unauthorized("mobile token unknown or already used")
        self.spent.add(token)
        new = secrets.token_hex(20)
        self.mobile[new] = person
        return new, self.issue(person)

    def issue(self, person_id: int) -> AuthSession:
        session = AuthSession(secrets.token_hex(16), person_id, self.options.clock())
        self.sessions[session.token] = session
        return session

    def live_mobile_token(self, person_id: int) -> str | None:
        return next((t for t, p in self.mobile.items() if p == person_id), None)

    def expire_all(self) -> int:
        n = 0
        for s in self.sessions.values():
            n += s.alive
            s.alive = False
        return n

    def lookup(self, token: str | None) -> AuthSession | None:
        session = self.sessions.get(token or "")
        if session is None or not session.alive:
            return None
        if self.options.clock() - session.issued > self.options.token_ttl:
            session.alive = False
            return None
        return session

    # -- request checks ----------------------------------------------------------------------

    def require(self, request: Request) -> PersonInfo:
        token = request.headers.get("auth-token") or request.cookies.get("auth_token")
        session = self.lookup(token)
        if session is None:
            raise Unauthorized("authentication required")
        person = self.world.persons[session.person_id]
        pid = (
            request.headers.get("profile-id")
            or request.query_params.get("pid")
            or request.cookies.get("profile_id")
        )
        if pid and pid != str(person.ext_id):
            raise Forbidden("profile does not belong to this session")
        return person

    def students_of(self, person: PersonInfo) -> list[int]:
        if person.role == "student":
            return [person.ext_id]
        if person.role == "guardian":
            return list(person.children)
        return []

    def student(self, request: Request, person: PersonInfo, value: str | None = None) -> PersonInfo:
        raw = value if value is not None else request.query_params.get("student_profile_id")
        allowed = self.students_of(person)
        if not raw:
            if len(allowed) == 1:
                return self.world.persons[allowed[0]]
            raise BadRequest("student_profile_id is required")
        try:
            sid = int(raw)
        except ValueError:
            raise BadRequest("student_profile_id must be an integer") from None
        if sid not in allowed:
            raise Forbidden("student profile is not available to this user")
        return self.world.persons[sid]

    def school_of(self, person: PersonInfo) -> SchoolInfo:
        return self.world.schools[person.school]

    def page(self, request: Request, items: list[Any]) -> list[Any]:
        """``page`` / ``per_page``: pages count from ``page_base``; a lower page is the first."""
        q = request.query_params
        try:
            per_page = int(q.get("per_page") or self.options.default_per_page)
            page = int(q.get("page") or self.options.page_base)
        except ValueError:
            raise BadRequest("page and per_page must be integers") from None
        per_page = max(1, min(per_page, self.options.max_per_page))
        index = max(page, self.options.page_base) - self.options.page_base
        return items[index * per_page : (index + 1) * per_page]


def parse_dmy(text: str | None, name: str) -> date | None:
    """``DD.MM.YYYY`` (mark and homework filters); anything else → 400."""
    if not text:
        return None
    try:
        d, m, y = text.split(".")
        if len(y) != 4:
            raise ValueError
        return date(int(y), int(m), int(d))
    except ValueError:
        raise BadRequest(f"{name} must be DD.MM.YYYY") from None


def parse_iso(text: str | None, name: str) -> date | None:
    """``YYYY-MM-DD`` (schedule filters); anything else → 400."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be YYYY-MM-DD") from None
