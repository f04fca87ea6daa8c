"""NetSchool («Сетевой город / регион. Образование») emulator: an ASGI app over a sandbox World.

Serves the wire contract in ``WIRE.md`` (login, student/parent diary, teacher/admin journal reads
and writes) so the connector and public clients can be tested without a live server. Paths under
``/webapi`` and ``/asp`` are case-insensitive, as on the platform's IIS servers. Writes change the
shared World, so the next read and ``World.canonical`` reflect them.

Emulator-only endpoints: ``GET|POST /_sandbox/faults`` (see ``connectors.sandbox.faults``),
``POST /_sandbox/sessions/expire`` (kill every login), ``POST /_sandbox/world/mutate``
(``{"n": 5, "seed": 1}`` → random teacher edits, described).

Shapes that no public source shows are marked [guess] in WIRE.md and in the docstrings of the
handler modules (``_emulator_auth``, ``_emulator_diary``, ``_emulator_teacher``,
``_emulator_files``, ``_emulator_reports``). The report hub is a WebSocket (Core SignalR, note
§4.11); uvicorn serves it with ``wsproto``.
"""

from __future__ import annotations

import json
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.netschool import (
    _emulator_auth,
    _emulator_diary,
    _emulator_files,
    _emulator_reports,
    _emulator_teacher,
)
from connectors.netschool._emulator_auth import password_hash
from connectors.netschool._emulator_codes import WORK_TYPE_IDS, wire_weight
from connectors.netschool._emulator_state import (
    BadRequest,
    EmulatorState,
    Forbidden,
    NetSchoolEmulatorOptions,
    SecurityWarningPending,
    Unauthorized,
)
from connectors.sandbox.faults import Faults, FaultsMiddleware
from connectors.sandbox.responses import JSONResponse
from connectors.sandbox.world import World

__all__ = [
    "WORK_TYPE_IDS",
    "NetSchoolEmulator",
    "NetSchoolEmulatorOptions",
    "create_app",
    "password_hash",
    "wire_weight",
]

# Short HTML answer a client must recognise (note §2.4: < 1000 bytes, mentions the page).
SECURITY_WARNING_HTML = (
    '<html><head><script>location.href="/asp/SecurityWarning.asp";</script></head>'
    "<body>/asp/SecurityWarning.asp</body></html>"
)


class NetSchoolEmulator:
    """The ASGI app returned by :func:`create_app`; exposes its world, faults and state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.world = state.world
        self.faults = state.faults
        self.options = state.options
        self._app: ASGIApp = FaultsMiddleware(_CaseInsensitive(_starlette(state)), state.faults)

    def expire_sessions(self) -> int:
        """Force every login to expire (the next call answers 401)."""
        return self.state.expire_all()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(
    world: World,
    *,
    faults: Faults | None = None,
    options: NetSchoolEmulatorOptions | None = None,
) -> NetSchoolEmulator:
    return NetSchoolEmulator(
        EmulatorState(world, faults or Faults(), options or NetSchoolEmulatorOptions())
    )


class _CaseInsensitive:
    """Lower-case `/webapi` and `/asp` paths before routing (IIS ignores case)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            low = path.lower()
            if low.startswith(("/webapi", "/asp")) and path != low:
                scope = {**scope, "path": low}
        await self.app(scope, receive, send)


def _starlette(st: EmulatorState) -> Starlette:
    async def unauthorized(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": "Unauthorized"}, status_code=401)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=403)

    async def bad_request(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": str(exc)}, status_code=400)

    async def warning(request: Request, exc: Exception) -> Response:
        return Response(SECURITY_WARNING_HTML, media_type="text/html")

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
        *_emulator_auth.routes(st),
        *_emulator_diary.routes(st),
        *_emulator_teacher.routes(st),
        *_emulator_files.routes(st),
        *_emulator_reports.routes(st),
        Route("/_sandbox/world/mutate", mutate, methods=["POST"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            Unauthorized: unauthorized,
            Forbidden: forbidden,
            BadRequest: bad_request,
            SecurityWarningPending: warning,
        },
    )
