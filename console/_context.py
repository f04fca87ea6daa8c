"""The console's shared state and the pieces every route uses: errors of one shape, who is
asking, which schools they may see."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from console._auth import SESSION_COOKIE, Sessions
from console._data import Scores
from console._tokens import Principal, find_token
from core.store import Store
from scheduler import Plan, SchoolPlan

__all__ = ["ApiError", "Ctx", "LoginRequired", "ctx_of"]


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "code", "message", "hint"}}``."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "status": self.status,
                "code": self.code,
                "message": self.message,
                "hint": self.hint,
            }
        }


class LoginRequired(Exception):
    """A page asked for without a session: the browser goes to the login page."""


def not_found(what: str = "school") -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@dataclass
class Ctx:
    plan: Plan | None
    store: Store
    sessions: Sessions
    secure_cookies: bool = False
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    scores: Scores = field(init=False)

    def __post_init__(self) -> None:
        self.scores = Scores(self.store, self.plan)

    # --- schools ---

    def plan_school(self, slug: str) -> SchoolPlan | None:
        if self.plan is None or not self.plan.knows(slug):
            return None
        # a school on several platforms: the binding in effect on its local date
        return self.plan.school(slug)

    def timezone(self, slug: str) -> str:
        sp = self.plan_school(slug)
        if sp is not None:
            return sp.timezone
        return self.plan.timezone if self.plan else "Europe/Moscow"

    def platforms_of(self, slug: str) -> list[str]:
        """The school's bindings: the plan's platform first, then any other the store holds."""
        sp = self.plan_school(slug)
        found = [p for _s, p in self.store.school_platforms(slug)]
        first = [sp.platform] if sp is not None else []
        if self.plan is not None and sp is not None:  # then the school's other bindings
            first += [b.platform for b in self.plan.bindings(slug) if b.platform not in first]
        return first + sorted(set(found) - set(first))

    def visible_school(self, who: Principal, slug: str) -> list[str]:
        """The school's platforms, or 404 — for a school that does not exist and for one the
        caller may not see alike (no hint that it exists)."""
        if not who.sees(slug):
            raise not_found()
        platforms = self.platforms_of(slug)
        if not platforms:
            raise not_found()
        return platforms

    def platform_for(self, who: Principal, slug: str, platform: str | None) -> str:
        platforms = self.visible_school(who, slug)
        if platform is None:
            return platforms[0]
        if platform not in platforms:
            raise not_found("platform for this school")
        return platform

    def scope(self, who: Principal) -> frozenset[str] | None:
        """The schools the caller may see (``None``: all)."""
        return who.schools if who.role == "school" else None

    # --- who is asking ---

    def api_principal(self, request: Request) -> Principal:
        """Bearer token, or the cookie session (unsafe methods then need the CSRF header)."""
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            who = find_token(self.store, auth[7:].strip())
            if who is None:
                raise ApiError(401, "unauthorized", "the token is unknown or revoked")
            return who
        found = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise ApiError(
                401, "unauthorized", "log in: give a token as «Authorization: Bearer TOKEN»"
            )
        sess, who = found
        if request.method not in ("GET", "HEAD", "OPTIONS") and not self.sessions.csrf_ok(
            sess, request.headers.get("x-csrf-token")
        ):
            raise ApiError(403, "csrf", "a session's changes need its X-CSRF-Token header")
        return who


def ctx_of(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def require_write(who: Principal) -> None:
    if not who.can_write:
        raise ApiError(403, "read_only", "the auditor role is read-only")


def require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise ApiError(403, "admin_only", "only an administrator may do this")
