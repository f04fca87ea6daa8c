"""Ruobr («Электронная школа 2.0», api3d) emulator: an ASGI app over a sandbox World.

Serves the wire contract in ``WIRE.md`` exactly as the public clients in the note call it: GET
only, paths ending in ``/``, header credentials (``username`` = base64 of the upper-cased login,
``password`` = base64 of the password) on every call, no sessions. Errors travel as
``{"success": false, …}`` with HTTP 200 (wrong credentials: ``error_type: "auth"``; a ``child``
that is not the account's: ``error``), as R1 expects.

In front of it, in this order:

* :class:`connectors.sandbox.faults.FaultsMiddleware` — the common faults (5xx bursts, 429,
  slow answers, HTML instead of JSON, firewall 403; ``malformed`` corrupts that many diary marks:
  their ``question_id`` becomes a string);
* a QRATOR-style anti-bot layer — **403 HTML** for a non-browser User-Agent (anything not
  starting with ``Mozilla/``, e.g. httpx's default), as R3 saw in 2026.

Emulator-only endpoints (never behind QRATOR): ``GET|POST /_sandbox/faults``,
``POST /_sandbox/world/mutate`` (``{"n", "seed", "school"?}`` → random teacher edits), and the
sandbox operator's ``POST /_sandbox/operator/apply-worklist`` (a teacher enters a worklist by
hand, since Ruobr has no write API).

Where the note is silent or [?] the choice is the one the majority client expects; each is
marked [guess] in WIRE.md and in the handler modules' docstrings (``_emulator_diary``,
``_emulator_misc``, ``_emulator_state``). Staff accounts get ``applicant`` with empty ``childs``
[guess].
"""

from __future__ import annotations

import json
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.operator import operator_routes
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import World

from . import _emulator_diary, _emulator_misc
from ._emulator_state import BadCredentials, EmulatorState, NoSuccess, RuobrEmulatorOptions

__all__ = ["QRATOR_PAGE", "RuobrEmulator", "RuobrEmulatorOptions", "create_app"]

QRATOR_PAGE = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>403 Forbidden</title></head>'
    "<body><h1>403 Forbidden</h1><p>Доступ к ресурсу ограничен. Access to the resource is "
    "restricted by QRATOR anti-DDoS protection.</p><p>Request ID: 0000000000000000</p>"
    "</body></html>"
).encode()


class RuobrEmulator:
    """The ASGI app returned by :func:`create_app`; exposes its world, faults and options."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.world = state.world
        self.faults = state.faults
        self.options = state.options
        self._app: ASGIApp = FaultsMiddleware(_Qrator(_starlette(state), state), state.faults)

    def expire_sessions(self) -> int:
        """Nothing to expire: api3d has no sessions (header credentials on every call)."""
        return 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(
    world: World,
    *,
    faults: Faults | None = None,
    options: RuobrEmulatorOptions | None = None,
) -> RuobrEmulator:
    return RuobrEmulator(
        EmulatorState(world, faults or Faults(), options or RuobrEmulatorOptions())
    )


class _Qrator:
    """403 HTML to a non-browser User-Agent, before the API sees the request."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.state.options.qrator
            and not str(scope["path"]).startswith("/_sandbox")
            and not _user_agent(scope["headers"]).startswith(b"Mozilla/")
        ):
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(QRATOR_PAGE)).encode()),
                (b"server", b"QRATOR"),
            ]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": QRATOR_PAGE})
            return
        await self.app(scope, receive, send)


def _user_agent(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The last ``user-agent`` header (as ``dict(headers)`` would keep it), ``b""`` when none;
    bytes: a Latin-1 decode changes no ASCII prefix."""
    for key, value in reversed(headers):
        if key == b"user-agent":
            return value
    return b""


def _starlette(st: EmulatorState) -> Starlette:
    async def bad_credentials(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"success": False, "error_type": "auth"}, status_code=st.options.auth_failure_status
        )

    async def no_success(request: Request, exc: Exception) -> Response:
        return JSONResponse({"success": False, "error": str(exc)})

    async def mutate(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            n, seed = int(body.get("n", 1)), int(body.get("seed", 0))
            school = body.get("school")
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"message": "expected {n, seed, school?}"}, status_code=400)
        changes = st.world.mutate_random(random.Random(seed), n, school)
        return JSONResponse({"changes": changes, "version": st.world.version})

    routes = [
        *_emulator_diary.routes(st),
        *_emulator_misc.routes(st),
        Route("/_sandbox/world/mutate", mutate, methods=["POST"]),
        *operator_routes(st.world),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={BadCredentials: bad_credentials, NoSuccess: no_success},
    )
