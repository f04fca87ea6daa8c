"""The console's ASGI app: the API, the pages, ``/healthz``, ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import _api, _pages
from console._auth import Sessions
from console._context import ApiError, Ctx, ctx_of
from console._metrics import metrics_text
from core.errors import JournalSyncError
from core.logging import get_logger, redact
from core.store import Store
from scheduler import Plan

__all__ = ["create_app"]

log = get_logger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api") or path in ("/metrics", "/healthz", "/openapi.json"))


class _Timed:
    """Every answer says how long the app took (``Server-Timing: app;dur=12.3``, in ms, up to
    the response's start — a page is rendered by then); a bug answers 500 in the one error
    shape, naming nothing inside (the log has it). Plain ASGI: a ``BaseHTTPMiddleware`` costs
    a task and a stream per request."""

    def __init__(self, app: ASGIApp, on_error: Callable[[Request, ApiError], Response]) -> None:
        self.app, self.on_error = app, on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        started = False

        async def timed(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                took = 1000 * (time.perf_counter() - start)
                MutableHeaders(scope=message).append("Server-Timing", f"app;dur={took:.1f}")
            await send(message)

        try:
            await self.app(scope, receive, timed)
        except Exception as exc:
            detail = redact(str(exc))[:200]
            log.error("console.unexpected_error", error=type(exc).__name__, detail=detail)
            if started:
                raise
            err = ApiError(500, "internal", "internal error: see the server's log", None)
            await self.on_error(Request(scope), err)(scope, receive, timed)


def create_app(
    plan: Plan | None, store: Store, *, secure_cookies: bool = False, warm_scores: bool = True
) -> FastAPI:
    """The console over ``store`` (and the config's schools, time zones and credentials, which
    starting runs and approving held pushes need)."""
    app = FastAPI(
        title="journalsync console",
        version="1",
        description="Municipal console over the journalsync store: schools, runs, drift.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = Ctx(
        plan=plan, store=store, sessions=Sessions(store), secure_cookies=secure_cookies
    )

    def error(request: Request, err: ApiError) -> Response:
        if _wants_html(request):
            return _pages.error_page(request, err)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error(request, exc)

    @app.exception_handler(_pages.LoginRequired)
    async def _login(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(JournalSyncError)
    async def _js_error(request: Request, exc: JournalSyncError) -> Response:
        return error(request, ApiError(400, "bad_request", exc.message, exc.hint or None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return error(request, ApiError(422, "invalid", "; ".join(parts) or "invalid request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return error(request, ApiError(exc.status_code, code, str(message)))

    app.add_middleware(_Timed, on_error=error)

    @app.get("/healthz", summary="Liveness: the store answers")
    async def healthz(request: Request) -> dict[str, Any]:
        ctx = ctx_of(request)
        try:
            with ctx.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            raise ApiError(503, "store_unavailable", "the store does not answer") from None
        return {"status": "ok", "store": ctx.store.dialect}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        ctx = ctx_of(request)
        who = ctx.api_principal(request)
        body = metrics_text(ctx.store, ctx.scope(who))
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    _pages.warm_templates()
    if warm_scores:
        app.state.ctx.scores.warm()
    app.include_router(_api.router)
    app.include_router(_pages.router)
    return app
