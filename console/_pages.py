"""The pages, in Russian, rendered on the server (Jinja2): log in with a token, the
municipality's overview, a school, a run, the audit log. Forms carry the session's CSRF token;
the session cookie is HttpOnly and SameSite=Strict. No JavaScript."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from console import _actions, _migrations
from console._auth import SESSION_COOKIE, Session
from console._context import ApiError, Ctx, LoginRequired, ctx_of, require_admin, require_write
from console._data import (
    FINDING_STATUS_TEXT,
    OPERATION_TEXT,
    RESOLUTIONS,
    STATE_TEXT,
    SchoolRow,
    finding_rows,
    local_time,
    note_text,
    overview,
    runs_page,
)
from console._downloads import package_zip, worklists_zip
from console._tokens import Principal, audit, audit_entries
from core.platform import platform_title
from core.store import ENTITY_TEXT, RunState, drift_findings, runs

__all__ = ["LoginRequired", "error_page", "router", "warm_templates"]

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

LOGIN_CSRF = "js_login_csrf"


def warm_templates() -> None:
    """Compile every page's template now (a console's first page need not pay for it)."""
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)


ROLE_TEXT = {"admin": "администратор", "school": "школа", "auditor": "аудитор"}

COUNT_TEXT = {
    "records": "прочитано записей",
    "pushed": "отправлено изменений",
    "verified": "подтверждено",
    "failed": "не удалось",
    "drift": "расхождений",
    "enqueued": "поставлено в очередь",
    "discarded": "отклонено",
    "accepted_remote": "принято с платформы",
    "findings_opened": "новых расхождений",
    "findings_resolved": "устранено расхождений",
    "awaiting_entry": "ждут ручного ввода",
    "inserted": "добавлено",
    "updated": "изменено",
    "deleted": "удалено",
    "unchanged": "без изменений",
    "pages": "прочитано страниц",
    "quarantined": "не прочитано (карантин)",
    "push_failed": "не отправлено",
    "drift_mismatch": "различаются",
    "drift_missing_on_platform": "нет на платформе",
    "drift_extra_on_platform": "есть только на платформе",
    "stale": "устаревших записей",
}

ACTION_TEXT = {
    "push_local": "отправить из журнала школы",
    "accept_platform": "принять версию платформы",
    "accept_difference": "оставить как есть (с комментарием)",
}


async def _page(request: Request) -> tuple[Ctx, Session, Principal]:
    ctx = ctx_of(request)
    found = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
    if found is None:
        raise LoginRequired()
    sess, who = found
    return ctx, sess, who


PageDep = Annotated[tuple[Ctx, Session, Principal], Depends(_page)]


def _check_csrf(ctx: Ctx, sess: Session, given: str) -> None:
    if not ctx.sessions.csrf_ok(sess, given):
        raise ApiError(403, "csrf", "форма устарела: откройте страницу заново")


def _render(request: Request, name: str, code: int = 200, **data: Any) -> HTMLResponse:
    data.setdefault("who", None)
    data.setdefault("csrf", "")
    return templates.TemplateResponse(
        request,
        name,
        {
            "STATE_TEXT": STATE_TEXT,
            "OPERATION_TEXT": OPERATION_TEXT,
            "platform_title": platform_title,
            "ROLE_TEXT": ROLE_TEXT,
            "FINDING_STATUS_TEXT": FINDING_STATUS_TEXT,
            "ACTION_TEXT": ACTION_TEXT,
            "COUNT_TEXT": COUNT_TEXT,
            "ENTITY_TEXT": ENTITY_TEXT,
            "note_text": note_text,
            **data,
        },
        status_code=code,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


_ERROR_TEXT = {
    400: "Неверный запрос",
    401: "Нужен вход",
    403: "Недостаточно прав",
    404: "Не найдено",
    409: "Действие не выполнено",
    422: "Неверные данные",
    500: "Внутренняя ошибка",
}


_MESSAGE_TEXT = {
    "not_found": "Такой страницы нет.",
    "read_only": "Роль «аудитор» — только просмотр.",
    "admin_only": "Это доступно только администратору.",
    "names": "Документ называет учеников полностью: для роли «аудитор» он недоступен.",
    "review_pending": "План нельзя утвердить: не все ученики и учителя сопоставлены."
    " Примите решения в файле сопоставления и составьте план заново.",
    "internal": "Внутренняя ошибка; подробности — в журнале сервера.",
    "unauthorized": "Нужно войти заново.",
}


def error_page(request: Request, err: ApiError) -> Response:
    ctx = ctx_of(request)
    found = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
    return _render(
        request,
        "error.html",
        code=err.status,
        title=_ERROR_TEXT.get(err.status, "Ошибка"),
        message=_MESSAGE_TEXT.get(err.code, err.message),
        who=found[1] if found else None,
        csrf=found[0].csrf if found else "",
    )


# --- login ---------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    resp = _render(request, "login.html", login_csrf=token, failed=False)
    _set_cookie(ctx_of(request), resp, LOGIN_CSRF, token, path="/login")
    return resp


def _set_cookie(ctx: Ctx, resp: Response, name: str, value: str, path: str = "/") -> None:
    resp.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=ctx.secure_cookies,
        path=path,
    )


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(max_length=300)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    ctx = ctx_of(request)
    expected = request.cookies.get(LOGIN_CSRF, "")
    ok = bool(expected) and secrets.compare_digest(expected, csrf)
    made = ctx.sessions.login(token) if ok else None
    if made is None:
        fresh = secrets.token_urlsafe(24)
        page = _render(request, "login.html", code=401, login_csrf=fresh, failed=True)
        _set_cookie(ctx, page, LOGIN_CSRF, fresh, path="/login")
        return page
    sid, _sess = made
    who = ctx.sessions.get(sid)
    assert who is not None
    audit(ctx.store, who[1], "login")
    resp = RedirectResponse("/", status_code=303)
    _set_cookie(ctx, resp, SESSION_COOKIE, sid)
    resp.delete_cookie(LOGIN_CSRF, path="/login", httponly=True, samesite="strict")
    return resp


@router.post("/logout")
def logout(page: PageDep, request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    ctx, sess, _who = page
    _check_csrf(ctx, sess, csrf)
    ctx.sessions.logout(request.cookies.get(SESSION_COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return resp


# --- overview ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    """An overview row's cells in words, worked out once in Python: a thousand rows through
    per-row macros and lookups in the template cost more than all the store's queries."""

    slug: str
    name: str
    platform: str
    in_plan: bool
    title: str
    last: str
    operation: str
    state_class: str
    state_text: str
    failed_in_a_row: int
    coverage: str
    drift_open: int
    score: str
    pending: bool


def _state_class(state: str | None) -> str:
    if not state:
        return "none"
    return state if state in ("done", "failed", "held") else "going"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} %"


def _lines(rows: list[SchoolRow]) -> list[_Line]:
    titles = {p: platform_title(p) for p in {r.platform for r in rows}}
    out = []
    for r in rows:
        st = r.status
        op = st.last_operation
        out.append(
            _Line(
                slug=r.slug,
                name=r.name,
                platform=r.platform,
                in_plan=r.in_plan,
                title=titles[r.platform],
                last=local_time(st.updated_at, r.timezone),
                operation=OPERATION_TEXT.get(op, op) if op else "",
                state_class=_state_class(r.state),
                state_text=STATE_TEXT.get(r.state, r.state or ""),
                failed_in_a_row=r.failed_in_a_row,
                coverage=_percent(r.coverage * 100 if r.coverage is not None else None),
                drift_open=r.drift_open,
                score=_percent(r.compliance),
                pending=r.compliance_pending,
            )
        )
    return out


_SORTS: dict[str, Any] = {
    "school": lambda r: r.name.casefold(),
    "platform": lambda r: platform_title(r.platform),
    "last": lambda r: r.status.updated_at.timestamp() if r.status.updated_at else 0.0,
    "state": lambda r: STATE_TEXT.get(r.state, r.state or ""),
    "coverage": lambda r: -1.0 if r.coverage is None else r.coverage,
    "drift": lambda r: r.drift_open,
    "compliance": lambda r: -1.0 if r.compliance is None else r.compliance,
}


@router.get("/", response_class=HTMLResponse)
def overview_page(
    page: PageDep,
    request: Request,
    sort: str = "school",
    dir: str = "asc",
    platform: str = "",
    state: str = "",
    q: str = "",
) -> Response:
    ctx, sess, who = page
    rows = overview(ctx.plan, ctx.store, schools=ctx.scope(who), scores=ctx.scores)
    platforms = sorted({r.platform for r in rows})
    if platform:
        rows = [r for r in rows if r.platform == platform]
    if state:
        rows = [r for r in rows if (r.state or "never") == state]
    if q:
        rows = [r for r in rows if q.casefold() in f"{r.name} {r.slug}".casefold()]
    sort = sort if sort in _SORTS else "school"
    rows.sort(key=_SORTS[sort], reverse=dir == "desc")

    def sort_link(col: str) -> str:
        flip = "desc" if sort == col and dir == "asc" else "asc"
        args = {"sort": col, "dir": flip, "platform": platform, "state": state, "q": q}
        return "/?" + urlencode({k: v for k, v in args.items() if v})

    totals = {
        "schools": len(rows),
        "failed": sum(1 for r in rows if r.state == "failed"),
        "held": sum(1 for r in rows if r.holds),
        "drift": sum(1 for r in rows if r.drift_open),
    }
    return _render(
        request,
        "overview.html",
        who=who,
        csrf=sess.csrf,
        rows=_lines(rows),
        platforms=platforms,
        sort=sort,
        dir=dir,
        platform=platform,
        state=state,
        q=q,
        sort_link=sort_link,
        totals=totals,
        local_time=local_time,
        municipality=ctx.plan.municipality if ctx.plan else "",
        chart=_chart(ctx, who),
    )


def _chart(ctx: Ctx, who: Principal) -> list[dict[str, Any]]:
    """Failed runs and new drift findings per day of the last two weeks (bars), counted in
    SQL per hour and put into days of the municipality's zone."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ctx.plan.timezone if ctx.plan else "Europe/Moscow")
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(13, -1, -1)]
    per = {d: {"failed": 0, "drift": 0} for d in days}
    since = now - timedelta(days=15)
    scope = ctx.scope(who)
    for key, table, col, extra in (
        ("failed", runs, runs.c.created_at, runs.c.state == "failed"),
        ("drift", drift_findings, drift_findings.c.first_seen, None),
    ):
        hour = (
            func.date_trunc("hour", col)
            if ctx.store.dialect == "postgresql"
            else func.strftime("%Y-%m-%d %H", col)
        )
        stmt = select(hour, func.count()).where(col >= since).group_by(hour)
        if extra is not None:
            stmt = stmt.where(extra)
        if scope is not None:
            stmt = stmt.where(table.c.school.in_(sorted(scope)))
        with ctx.store.engine.connect() as conn:
            for at, n in conn.execute(stmt):
                if isinstance(at, str):
                    at = datetime.strptime(at, "%Y-%m-%d %H").replace(tzinfo=UTC)
                d = at.astimezone(zone).date()
                if d in per:
                    per[d][key] += int(n)
    top = max([1, *(max(v.values()) for v in per.values())])
    return [
        {
            "day": f"{d:%d.%m}",
            "failed": v["failed"],
            "drift": v["drift"],
            "failed_h": round(60 * v["failed"] / top),
            "drift_h": round(60 * v["drift"] / top),
        }
        for d, v in per.items()
    ]


# --- school --------------------------------------------------------------------------------------


@router.get("/schools/{school}", response_class=HTMLResponse)
def school_page(
    page: PageDep,
    request: Request,
    school: str,
    platform: str | None = None,
    entity: str = "",
    subject: str = "",
    status: str = "open",
) -> Response:
    ctx, sess, who = page
    p = ctx.platform_for(who, school, platform)
    class_name = request.query_params.get("class", "")
    mine = overview(ctx.plan, ctx.store, schools=frozenset({school}), scores=ctx.scores)
    rows: list[SchoolRow] = [r for r in mine if r.platform == p]
    if not rows:
        raise ApiError(404, "not_found", "no such school")
    row = rows[0]
    zone = ctx.timezone(school)
    status = status if status in ("open", "accepted", "resolved", "all") else "open"
    findings = finding_rows(
        ctx.store,
        school,
        p,
        status=None if status == "all" else status,
        entity=entity or None,
        class_name=class_name or None,
        subject=subject or None,
        masked=who.masks_names,
    )
    everything = finding_rows(ctx.store, school, p, status=None, masked=who.masks_names)
    runs = runs_page(ctx.store, schools=ctx.scope(who), school=school, limit=20).items
    held = [r for r in runs if r.state is RunState.HELD]
    holds = dict(row.status.holds)
    return _render(
        request,
        "school.html",
        who=who,
        csrf=sess.csrf,
        row=row,
        school=school,
        platform=p,
        platforms=ctx.platforms_of(school),
        zone=zone,
        runs=runs,
        held=held,
        holds=holds,
        findings=findings[:500],
        findings_total=len(findings),
        entities=sorted({f.entity for f, _ in everything}),
        classes=sorted({r.class_name for _, r in everything if r.class_name}),
        subjects=sorted({r.subject for _, r in everything if r.subject}),
        entity=entity,
        class_name=class_name,
        subject=subject,
        status=status,
        local_time=local_time,
        in_plan=ctx.plan_school(school) is not None,
        resolutions=RESOLUTIONS,
    )


@router.post("/schools/{school}/drift/{finding_id}")
async def resolve_form(
    page: PageDep,
    school: str,
    finding_id: str,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    if action not in RESOLUTIONS:
        raise ApiError(422, "invalid", "неизвестное действие")
    if action == "accept_difference" and not comment.strip():
        raise ApiError(422, "invalid", "чтобы оставить расхождение, напишите комментарий")
    ctx.visible_school(who, school)
    await _actions.resolve(ctx, who, finding_id, action, comment)
    return RedirectResponse(_back(back, f"/schools/{school}"), status_code=303)


def _back(given: str, default: str) -> str:
    """Only a path of this site (never another origin)."""
    return given if given.startswith("/") and not given.startswith("//") else default


@router.post("/schools/{school}/run")
async def trigger_form(
    page: PageDep,
    school: str,
    operation: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    started = _actions.trigger(ctx, who, school, operation)
    return RedirectResponse(f"/runs/{started['run_id']}", status_code=303)


@router.post("/schools/{school}/worklists")
def worklists_form(
    page: PageDep, school: str, csrf: Annotated[str, Form()] = "", platform: str | None = None
) -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    p = ctx.platform_for(who, school, platform)
    require_write(who)
    resp = worklists_zip(ctx.store, school, p, ctx.timezone(school))
    if resp is None:
        raise ApiError(404, "nothing", "вводить вручную нечего: открытых пунктов нет")
    audit(ctx.store, who, "download.worklists", school=school)
    return resp


@router.post("/schools/{school}/package")
def package_form(
    page: PageDep, school: str, csrf: Annotated[str, Form()] = "", platform: str | None = None
) -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    p = ctx.platform_for(who, school, platform)
    require_write(who)
    resp = package_zip(ctx.store, school, p, ctx.timezone(school))
    if resp is None:
        raise ApiError(404, "nothing", "пакет пуст: изменений для оператора нет")
    audit(ctx.store, who, "download.package", school=school)
    return resp


# --- runs ----------------------------------------------------------------------------------------


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(page: PageDep, request: Request, run_id: str) -> Response:
    ctx, sess, who = page
    run = _actions.visible_run(ctx, who, run_id)
    zone = ctx.timezone(run.school)
    transitions = ctx.store.transitions(run.id)
    held = [t.note for t in transitions if t.to_state is RunState.HELD]
    sp = ctx.plan_school(run.school)
    name = sp.name if sp is not None else run.school
    going = run.state not in (RunState.DONE, RunState.FAILED, RunState.HELD)
    return _render(
        request,
        "run.html",
        who=who,
        csrf=sess.csrf,
        run=run,
        school_name=name,
        zone=zone,
        transitions=transitions,
        hold_reason=held[-1] if held and run.state is RunState.HELD else "",
        local_time=local_time,
        refresh=going,
    )


@router.post("/runs/{run_id}/approve")
async def approve_form(page: PageDep, run_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    run = await _actions.approve(ctx, who, run_id)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post("/runs/{run_id}/discard")
async def discard_form(page: PageDep, run_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    run = await run_in_threadpool(_actions.discard, ctx, who, run_id)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


# --- migrations ----------------------------------------------------------------------------------


def _plan_line(ctx: Ctx, row: _migrations.PlanSummary) -> dict[str, Any]:
    counts = row.counts
    total = {
        k: sum(int(c.get(k, 0)) for c in counts.values() if isinstance(c, dict))
        for k in ("add", "update", "conflict")
    }
    return {
        "id": row.id,
        "school": row.school,
        "school_name": _migrations_school_name(ctx, row.school),
        "source": platform_title(row.source_platform),
        "target": platform_title(row.target_platform),
        "state": row.state,
        "state_text": _migrations.PLAN_STATE_TEXT.get(row.state, row.state),
        "when": local_time(row.created_at, ctx.timezone(row.school)),
        "added": total["add"],
        "updated": total["update"],
        "conflicts": total["conflict"],
        "review": row.review_pending,
        "complete": row.state == "verified",
    }


def _migrations_school_name(ctx: Ctx, slug: str) -> str:
    sp = ctx.plan_school(slug)
    return sp.name if sp is not None else slug


@router.get("/migrations", response_class=HTMLResponse)
def migrations_page(page: PageDep, request: Request, school: str = "", state: str = "") -> Response:
    ctx, sess, who = page
    if school:
        ctx.visible_school(who, school)
    rows = _migrations.plans_of(ctx, who, school or None, state or None)
    return _render(
        request,
        "migrations.html",
        who=who,
        csrf=sess.csrf,
        rows=[_plan_line(ctx, r) for r in rows[:500]],
        school=school,
        school_name=_migrations_school_name(ctx, school) if school else "",
        state=state,
        states=_migrations.PLAN_STATE_TEXT,
    )


@router.get("/migrations/{plan_id}", response_class=HTMLResponse)
def migration_page(page: PageDep, request: Request, plan_id: str) -> Response:
    ctx, sess, who = page
    row = _migrations.visible_plan(ctx, who, plan_id)
    summary = _migrations.summary_of(row)
    zone = ctx.timezone(row.school)
    return _render(
        request,
        "migration.html",
        who=who,
        csrf=sess.csrf,
        plan={
            **_plan_line(ctx, summary),
            "complete": bool((row.certificate or {}).get("complete")),
        },
        lines=_migrations.entity_lines(row),
        docs=_migrations.documents(summary),
        approved_at=local_time(row.approved_at, zone),
        approved_by=(row.approved_by or "").removesuffix(" (console)"),
        verified_at=local_time(row.updated_at, zone) if row.certificate else "",
        certificate=row.certificate is not None,
    )


@router.post("/migrations/{plan_id}/approve")
def migration_approve_form(
    page: PageDep, plan_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    ctx, sess, who = page
    _check_csrf(ctx, sess, csrf)
    row = _migrations.approve(ctx, who, plan_id)
    return RedirectResponse(f"/migrations/{row.id}", status_code=303)


# --- audit ---------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(page: PageDep, request: Request) -> Response:
    ctx, sess, who = page
    require_admin(who)
    zone = ctx.plan.timezone if ctx.plan else "Europe/Moscow"
    return _render(
        request,
        "audit.html",
        who=who,
        csrf=sess.csrf,
        entries=audit_entries(ctx.store, limit=300),
        zone=zone,
        local_time=local_time,
    )
