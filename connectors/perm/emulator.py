"""ЭПОС.Школа emulator: an ASGI app serving the note's student/parent API over a sandbox World.

Serves ``GET /authenticate`` (mobile-token rotation), ``POST|DELETE /lms/api/sessions``,
``/core/api/{academic_years, student_profiles/{id}, teacher_profiles, marks,
student_homeworks}``, ``/jersey/api/schedule_items``, ``/reports/api/progress/json`` and
``/acl/api/users`` — the same paths on either host (note §3). Choices where the note is silent
or marked [?] follow the majority of public clients and are listed in WIRE.md and in the
docstrings of ``_emulator_state`` (auth, paging), ``_emulator_render`` (ids, shapes) and
``_emulator_routes`` (filters).

Emulator-only endpoints: ``GET|POST /_sandbox/faults`` (``connectors.sandbox.faults``; the
``malformed`` switch corrupts the value of that many marks), ``POST /_sandbox/sessions/expire``
(every ``auth_token`` dies), ``GET /_sandbox/accounts`` (each account's live mobile token, for
trials over loopback), ``POST /_sandbox/world/mutate`` (``{"n", "seed", "school"?}``), and
``POST /_sandbox/operator/apply-worklist`` (``connectors.sandbox.operator``: a worklist entered
by hand, since ЭПОС has no write API).
"""

from __future__ import annotations

import json
import random
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.operator import operator_routes
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import World

from . import _emulator_routes
from ._emulator_render import CONTROL_FORMS, wire_weight
from ._emulator_state import (
    BadRequest,
    EmulatorState,
    Forbidden,
    PermEmulatorOptions,
    Unauthorized,
    initial_mobile_token,
)

__all__ = [
    "CONTROL_FORMS",
    "PermEmulator",
    "PermEmulatorOptions",
    "create_app",
    "initial_mobile_token",
    "wire_weight",
]


class PermEmulator:
    """The ASGI app returned by :func:`create_app`; exposes its world, faults and state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.world = state.world
        self.faults = state.faults
        self.options = state.options
        self._app: ASGIApp = FaultsMiddleware(_starlette(state), state.faults)

    def expire_sessions(self) -> int:
        """Force every ``auth_token`` to expire now (mobile tokens stay valid)."""
        return self.state.expire_all()

    def issue_auth_token(self, person_id: int) -> str:
        """An ``auth_token`` as a person would copy it from the browser (note §2.3)."""
        return self.state.issue(person_id).token

    def mobile_token(self, person_id: int) -> str | None:
        """The account's live mobile token (after any rotations)."""
        return self.state.live_mobile_token(person_id)

    def add_attachment(self, homework_id: int, name: str, size: int) -> dict[str, Any]:
        """Attach a file to a homework (the world has none); returns its payload."""
        files = self.state.attachments.setdefault(homework_id, [])
        item = {
            "id": homework_id * 100 + len(files) + 1,
            "file_file_name": name,
            "path": f"/system/attachments/{homework_id}/{name}",
            "file_file_size": size,
        }
        files.append(item)
        return item

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(
    world: World,
    *,
    faults: Faults | None = None,
    options: PermEmulatorOptions | None = None,
) -> PermEmulator:
    return PermEmulator(EmulatorState(world, faults or Faults(), options or PermEmulatorOptions()))


def _starlette(st: EmulatorState) -> Starlette:
    async def unauthorized(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=st.options.expired_status)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=403)

    async def bad_request(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=400)

    async def expire(request: Request) -> Response:
        return JSONResponse({"expired": st.expire_all()})

    async def accounts(request: Request) -> Response:
        w = st.world
        return JSONResponse(
            [
                {
                    "school": p.school,
                    "role": p.role,
                    "profile_id": p.ext_id,
                    "mobile_token": st.live_mobile_token(p.ext_id),
                }
                for p in w.persons.values()
            ]
        )

    async def mutate(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            n, seed = int(body.get("n", 1)), int(body.get("seed", 0))
            school = body.get("school")
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"message": "expected {n, seed, school?}"}, status_code=400)
        changes = st.world.mutate_random(random.Random(seed), n, school)
        return JSONResponse({"changes": changes, "version": st.world.version})

    routes: list[BaseRoute] = [
        *_emulator_routes.routes(st),
        Route("/_sandbox/sessions/expire", expire, methods=["POST"]),
        Route("/_sandbox/accounts", accounts, methods=["GET"]),
        Route("/_sandbox/world/mutate", mutate, methods=["POST"]),
        *operator_routes(st.world),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            Unauthorized: unauthorized,
            Forbidden: forbidden,
            BadRequest: bad_request,
        },
    )
