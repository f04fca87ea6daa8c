"""КИАСУО emulator: the family diary API (``/diary/...``) as an ASGI app over a sandbox World.

Serves the wire contract in ``WIRE.md`` the way the public clients call it (note §8): token
refresh with rotation, ``DELETE /diary/pwa_logout``, and the reads ``/diary/api/user``,
``study_periods``, ``lesson_marks/{term}``, ``schedule?year=&week=`` (ISO weeks), ``recipients``,
``student_marks/{class}``, ``school_classes`` (plus ``notices``/``conversations`` as empty lists:
known by name only). Every ``/api`` call needs ``Authorization: Bearer <JWT>`` and ``?id=`` one of
the account's children (``id=0`` on ``/api/user``; a missing ``id`` means the first child, which
tolerates clients that omit it); a foreign ``id`` answers **403** ``{"msg": …}`` (the note
allows 403 or 404). Cookies are ignored. Errors are ``{"msg": "…"}`` (K2 reads ``msg``).

Family accounts are the world's guardians and students; each starts with
:func:`initial_refresh_token`. Teachers have no diary API login (no evidence of one).

Emulator-only endpoints: ``GET|POST /_sandbox/faults`` (``connectors.sandbox.faults``),
``POST /_sandbox/tokens/expire`` (revoke every access token now), ``POST /_sandbox/world/mutate``
(``{"n": 5, "seed": 1}`` → random teacher edits), and the sandbox operator routes when
``connectors.sandbox.operator`` is installed. The ``malformed`` fault corrupts that many mark
cells of the next schedules (an unknown mark value).
"""

from __future__ import annotations

import importlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import PersonInfo, World

from . import _emulator_render as render
from ._emulator_auth import Grant, TokenAuthority, initial_refresh_token

__all__ = ["KiasuoEmulator", "KiasuoEmulatorOptions", "create_app", "initial_refresh_token"]


@dataclass
class KiasuoEmulatorOptions:
    #: Access-token lifetime in seconds (K3: "every hour").
    access_token_life: float = 3600.0
    #: The emulator's clock (unix seconds) for ``exp``; tests move it.
    clock: Callable[[], float] = field(default=time.time)


class _HttpError(Exception):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg


class KiasuoEmulator:
    """The ASGI app returned by :func:`create_app`; exposes its world, faults and tokens."""

    def __init__(self, world: World, faults: Faults, options: KiasuoEmulatorOptions) -> None:
        self.world = world
        self.faults = faults
        self.options = options
        self.tokens = TokenAuthority(world, life=options.access_token_life, clock=options.clock)
        self.calls: dict[str, int] = {}
        #: The renderer's lookups over the world, kept across requests (dropped on any change).
        self.index = render.Index(world)
        self._app: ASGIApp = FaultsMiddleware(_starlette(self), faults)

    def expire_access_tokens(self) -> int:
        """Force every access token to expire now (the next ``/api`` call answers 401)."""
        return self.tokens.expire_access_tokens()

    expire_sessions = expire_access_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    # --- request helpers ----------------------------------------------------------------------

    def grant(self, request: Request) -> tuple[Grant, str]:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        found = self.tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise _HttpError(401, "Unauthorized")
        return found

    def child(self, request: Request, *, allow_zero: bool = False) -> tuple[PersonInfo, PersonInfo]:
        """(account holder, the child named by ``?id=``)."""
        grant, _ = self.grant(request)
        me = self.world.persons[grant.person_id]
        kids = self.children(me)
        raw = request.query_params.get("id")
        if raw is None or (allow_zero and raw == "0"):
            if not kids:
                raise _HttpError(403, "No children")
            return me, kids[0]
        try:
            wanted = int(raw)
        except ValueError:
            raise _HttpError(400, "Invalid id") from None
        for kid in kids:
            if kid.ext_id == wanted:
                return me, kid
        raise _HttpError(403, "Access denied")

    def children(self, me: PersonInfo) -> list[PersonInfo]:
        if me.role == "student":
            return [me]
        return [self.world.persons[c] for c in me.children]


def create_app(
    world: World,
    *,
    faults: Faults | None = None,
    options: KiasuoEmulatorOptions | None = None,
) -> KiasuoEmulator:
    return KiasuoEmulator(world, faults or Faults(), options or KiasuoEmulatorOptions())


async def _refresh_token_of(request: Request) -> str | None:
    """The form field ``refresh-token`` (K1) or the JSON key ``refresh-token`` (K4, old K1)."""
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return None
        value = body.get("refresh-token") if isinstance(body, dict) else None
    else:
        # application/x-www-form-urlencoded (parsed here: no multipart dependency needed)
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        found = fields.get("refresh-token")
        value = found[0] if found else None
    return value.strip() if isinstance(value, str) else None


def _starlette(emu: KiasuoEmulator) -> Starlette:
    world = emu.world

    def count(name: str) -> None:
        emu.calls[name] = emu.calls.get(name, 0) + 1

    async def refresh(request: Request) -> Response:
        count("refresh")
        token = await _refresh_token_of(request)
        if not token:
            raise _HttpError(400, "refresh-token is required")
        pair = emu.tokens.rotate(token)
        if pair is None:
            raise _HttpError(401, "Invalid refresh token")
        return JSONResponse({"accessToken": pair[0], "refreshToken": pair[1]})

    async def logout(request: Request) -> Response:
        grant, _ = emu.grant(request)
        emu.tokens.logout(grant)
        return Response(status_code=204)

    async def api_user(request: Request) -> Response:
        count("user")
        grant, _ = emu.grant(request)
        me = world.persons[grant.person_id]
        if request.query_params.get("id", "0") != "0":
            emu.child(request)  # K1 sends the chosen child's id here too: it must be theirs
        return JSONResponse(render.user(world, me, emu.children(me)))

    async def api_periods(request: Request) -> Response:
        count("study_periods")
        _, kid = emu.child(request)
        return JSONResponse(render.study_periods(world, kid))

    async def api_classes(request: Request) -> Response:
        count("school_classes")
        _, kid = emu.child(request)
        return JSONResponse(render.school_classes(world, kid))

    async def api_recipients(request: Request) -> Response:
        count("recipients")
        _, kid = emu.child(request)
        return JSONResponse(render.recipients(world, kid))

    async def api_lesson_marks(request: Request) -> Response:
        count("lesson_marks")
        _, kid = emu.child(request)
        pid = request.path_params["period"]
        period = next((p for p in world.school(kid.school).periods if p.ext_id == pid), None)
        if period is None:
            raise _HttpError(404, "Study period not found")
        return JSONResponse(render.lesson_marks(world, kid, period, emu.index))

    async def api_schedule(request: Request) -> Response:
        count("schedule")
        _, kid = emu.child(request)
        try:
            monday = date.fromisocalendar(
                int(request.query_params["year"]), int(request.query_params["week"]), 1
            )
        except (KeyError, ValueError):
            raise _HttpError(400, "year and week (ISO week) are required") from None
        corrupt = emu.faults.take_malformed if emu.faults.malformed > 0 else None
        return JSONResponse(render.schedule(world, kid, monday, corrupt, emu.index))

    async def api_student_marks(request: Request) -> Response:
        count("student_marks")
        _, kid = emu.child(request)
        if str(kid.class_id) != request.path_params["cls"]:
            raise _HttpError(404, "School class not found")
        return JSONResponse(render.student_marks(world, kid))

    async def api_empty(request: Request) -> Response:
        emu.child(request)
        return JSONResponse([])

    async def expire(request: Request) -> Response:
        return JSONResponse({"expired": emu.expire_access_tokens()})

    async def mutate(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            n, seed = int(body.get("n", 1)), int(body.get("seed", 0))
            school = body.get("school")
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"msg": "expected {n, seed, school?}"}, status_code=400)
        changes = world.mutate_random(random.Random(seed), n, school)
        return JSONResponse({"changes": changes, "version": world.version})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _HttpError)
        return JSONResponse({"msg": exc.msg}, status_code=exc.status)

    routes: list[BaseRoute] = [
        Route("/diary/refresh", refresh, methods=["POST"]),
        Route("/diary/pwa_logout", logout, methods=["DELETE"]),
        Route("/diary/api/user", api_user),
        Route("/diary/api/study_periods", api_periods),
        Route("/diary/api/school_classes", api_classes),
        Route("/diary/api/recipients", api_recipients),
        Route("/diary/api/lesson_marks/{period:int}", api_lesson_marks),
        Route("/diary/api/schedule", api_schedule),
        Route("/diary/api/student_marks/{cls}", api_student_marks),
        Route("/diary/api/notices", api_empty),
        Route("/diary/api/conversations", api_empty),
        Route("/_sandbox/tokens/expire", expire, methods=["POST"]),
        Route("/_sandbox/world/mutate", mutate, methods=["POST"]),
        *_operator_routes(world),
    ]
    return Starlette(routes=routes, exception_handlers={_HttpError: http_error})


def _operator_routes(world: World) -> list[Any]:
    """The shared sandbox operator routes (a teacher entering a worklist), when installed."""
    try:
        module = importlib.import_module("connectors.sandbox.operator")
    except ImportError:
        return []
    routes: list[Any] = module.operator_routes(world)
    return routes
