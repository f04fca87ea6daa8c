"""The JSON API under ``/api``: schools, runs, drift, outbox, downloads, the audit log.

Lists are cursor-paged: ``?limit=`` (1–500) and ``?cursor=`` from the last page's
``next_cursor`` (``null`` on the last page). Errors have one shape:
``{"error": {"status", "code", "message", "hint"}}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from console import _actions, _migrations
from console._context import ApiError, Ctx, ctx_of, not_found, require_admin, require_write
from console._data import (
    RESOLUTIONS,
    finding_rows,
    local_time,
    overview,
    runs_page,
)
from console._downloads import compliance_report, drift_file, package_zip, worklists_zip
from console._paging import decode_cursor, encode_cursor, keyset
from console._tokens import Principal, audit, audit_entries
from core.errors import ConfigError
from core.store import Run, RunState

__all__ = ["router"]

router = APIRouter(prefix="/api")

Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=400)]


async def principal(request: Request) -> Principal:
    # async: FastAPI runs a plain function dependency in its thread pool, a hop per request
    return ctx_of(request).api_principal(request)


async def context(request: Request) -> Ctx:
    return ctx_of(request)


Who = Annotated[Principal, Depends(principal)]
CtxDep = Annotated[Ctx, Depends(context)]


def _run_json(ctx: Ctx, r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "run_key": r.run_key,
        "school": r.school,
        "platform": r.platform,
        "operation": r.operation,
        "state": r.state.value,
        "created_at": r.created_at.isoformat(),
        "updated_at": r.updated_at.isoformat(),
        "local_time": local_time(r.updated_at, ctx.timezone(r.school)),
        "counts": r.counts,
        "error": r.error,
    }


@router.get("/schools", summary="Schools with their bindings, last runs, coverage and drift")
async def list_schools(
    ctx: CtxDep,
    who: Who,
    platform: str | None = None,
    state: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    # every school's status: tens of milliseconds of store reads, off the event loop
    return await run_in_threadpool(_schools, ctx, who, platform, state, limit, cursor)


def _schools(
    ctx: Ctx,
    who: Principal,
    platform: str | None,
    state: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    rows = overview(ctx.plan, ctx.store, schools=ctx.scope(who), scores=ctx.scores)
    if platform:
        rows = [r for r in rows if r.platform == platform]
    if state:
        rows = [r for r in rows if (r.state or "never") == state]
    rows.sort(key=lambda r: (r.slug, r.platform))
    page = keyset(rows, lambda r: (r.slug, r.platform), cursor, limit)
    return {"items": [r.as_json() for r in page.items], "next_cursor": page.next_cursor}


@router.get("/schools/{school}", summary="One school: its bindings")
async def get_school(ctx: CtxDep, who: Who, school: str) -> dict[str, Any]:
    ctx.visible_school(who, school)
    rows = overview(ctx.plan, ctx.store, schools=frozenset({school}), scores=ctx.scores)
    if not rows:
        raise not_found()
    return {
        "school": school,
        "name": rows[0].name,
        "timezone": ctx.timezone(school),
        "bindings": [r.as_json() for r in rows],
    }


@router.get("/runs", summary="Runs, newest first")
async def list_runs(
    ctx: CtxDep,
    who: Who,
    school: str | None = None,
    state: RunState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    if school is not None:
        ctx.visible_school(who, school)
    page = runs_page(
        ctx.store,
        schools=ctx.scope(who),
        school=school,
        state=state.value if state else None,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [_run_json(ctx, r) for r in page.items], "next_cursor": page.next_cursor}


@router.get("/runs/{run_id}", summary="A run with its state transitions")
async def get_run(ctx: CtxDep, who: Who, run_id: str) -> dict[str, Any]:
    run = _actions.visible_run(ctx, who, run_id)
    zone = ctx.timezone(run.school)
    transitions = [
        {
            "seq": t.seq,
            "from": t.from_state.value if t.from_state else None,
            "to": t.to_state.value,
            "at": t.at.isoformat(),
            "local_time": local_time(t.at, zone),
            "note": t.note,
        }
        for t in ctx.store.transitions(run.id)
    ]
    held = [t["note"] for t in transitions if t["to"] == "held"]
    return {
        **_run_json(ctx, run),
        "hold_reason": held[-1] if held and run.state is RunState.HELD else None,
        "transitions": transitions,
    }


class TriggerBody(BaseModel):
    operation: Literal["pull", "push", "reconcile", "reports"]


@router.post("/schools/{school}/runs", status_code=202, summary="Start a run of the school now")
async def trigger_run(ctx: CtxDep, who: Who, school: str, body: TriggerBody) -> dict[str, Any]:
    return _actions.trigger(ctx, who, school, body.operation)


@router.post("/runs/{run_id}/approve", summary="Approve a held run (applied exactly once)")
async def approve_run(ctx: CtxDep, who: Who, run_id: str) -> dict[str, Any]:
    run = await _actions.approve(ctx, who, run_id)
    return _run_json(ctx, run)


@router.post("/runs/{run_id}/discard", summary="Discard a held run")
async def discard_run(ctx: CtxDep, who: Who, run_id: str) -> dict[str, Any]:
    run = await run_in_threadpool(_actions.discard, ctx, who, run_id)
    return _run_json(ctx, run)


@router.get("/drift", summary="Drift findings in words, filtered")
async def list_drift(
    ctx: CtxDep,
    who: Who,
    school: str | None = None,
    platform: str | None = None,
    entity: str | None = None,
    class_name: Annotated[str | None, Query(alias="class")] = None,
    subject: str | None = None,
    state: Literal["open", "accepted", "resolved", "all"] = "open",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    if school is not None:
        # one school's findings: a few milliseconds, answered on the event loop (a hop to the
        # thread pool costs more than it saves and lengthens the tail under load)
        pairs = [(school, ctx.platform_for(who, school, platform))]
        return _drift(ctx, who, pairs, entity, class_name, subject, state, limit, cursor)
    scope = ctx.scope(who)

    def every_school() -> dict[str, Any]:
        pairs = [
            (s, p)
            for s, p in ctx.store.school_platforms()
            if (scope is None or s in scope) and (platform is None or p == platform)
        ]
        return _drift(ctx, who, pairs, entity, class_name, subject, state, limit, cursor)

    return await run_in_threadpool(every_school)


def _drift(
    ctx: Ctx,
    who: Principal,
    pairs: list[tuple[str, str]],
    entity: str | None,
    class_name: str | None,
    subject: str | None,
    state: str,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    for s, p in pairs:
        for f, row in finding_rows(
            ctx.store,
            s,
            p,
            status=None if state == "all" else state,
            entity=entity,
            class_name=class_name,
            subject=subject,
            masked=who.masks_names,
        ):
            items.append(
                {
                    **row.as_json(),
                    "school": s,
                    "platform": p,
                    "entity": f.entity,
                    "kind_text": row.kind_text,
                    "summary": row.summary(),
                    "note": f.note,
                    "first_seen": f.first_seen.isoformat(),
                    "last_seen": f.last_seen.isoformat(),
                }
            )
    items.sort(key=lambda i: i["id"])
    page = keyset(items, lambda i: (i["id"],), cursor, limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


class ResolveBody(BaseModel):
    action: Literal["push_local", "accept_platform", "accept_difference"]
    comment: str = Field("", max_length=2000)


@router.post("/drift/{finding_id}/resolve", summary="Resolve a drift finding")
async def resolve_drift(
    ctx: CtxDep, who: Who, finding_id: str, body: ResolveBody
) -> dict[str, Any]:
    assert body.action in RESOLUTIONS
    return await _actions.resolve(ctx, who, finding_id, body.action, body.comment)


@router.get("/schools/{school}/outbox", summary="The school's outbox")
async def list_outbox(
    ctx: CtxDep,
    who: Who,
    school: str,
    platform: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    p = ctx.platform_for(who, school, platform)
    items: list[dict[str, Any]] = [
        {
            "key": i.key,
            "entity": i.entity,
            "record_id": i.record_id,
            "op": i.op,
            "channel": i.channel,
            "status": i.status,
            "attempts": i.attempts,
            "last_error": i.last_error,
            "created_at": i.created_at.isoformat(),
            "updated_at": i.updated_at.isoformat(),
        }
        for i in ctx.store.outbox(school, p, status=status)
    ]
    items.sort(key=lambda i: i["key"])
    page = keyset(items, lambda i: (i["key"],), cursor, limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/schools/{school}/drift.{fmt}",
    summary="Every drift finding of the school as a file",
    response_class=Response,
)
def download_drift(
    ctx: CtxDep,
    who: Who,
    school: str,
    fmt: Literal["xlsx", "csv", "json"],
    platform: str | None = None,
    state: Literal["open", "accepted", "resolved", "all"] = "open",
) -> Response:
    p = ctx.platform_for(who, school, platform)
    resp = drift_file(
        ctx.store, school, p, None if state == "all" else state, fmt, masked=who.masks_names
    )
    audit(ctx.store, who, "download.drift", school=school, detail=fmt)
    return resp


def _no_names_for_auditor(who: Principal) -> None:
    if who.masks_names:
        raise ApiError(
            403,
            "names",
            "this document names pupils and teachers in full: not for the auditor role",
        )


@router.get(
    "/schools/{school}/reports/compliance.{fmt}",
    summary="The school's compliance report",
    response_class=Response,
)
def download_compliance(
    ctx: CtxDep,
    who: Who,
    school: str,
    fmt: Literal["xlsx", "pdf"],
    platform: str | None = None,
) -> Response:
    p = ctx.platform_for(who, school, platform)
    _no_names_for_auditor(who)
    resp = compliance_report(ctx.plan, ctx.store, school, p, fmt)
    audit(ctx.store, who, "download.compliance", school=school, detail=fmt)
    return resp


@router.post(
    "/schools/{school}/worklists",
    summary="Issue and download the school's worklists (ZIP)",
    response_class=Response,
)
def download_worklists(ctx: CtxDep, who: Who, school: str, platform: str | None = None) -> Response:
    p = ctx.platform_for(who, school, platform)
    require_write(who)
    resp = worklists_zip(ctx.store, school, p, ctx.timezone(school))
    if resp is None:
        raise ApiError(404, "nothing", "nothing to enter by hand: no open worklist items")
    audit(ctx.store, who, "download.worklists", school=school)
    return resp


@router.post(
    "/schools/{school}/package",
    summary="Issue and download the operator's package (ZIP)",
    response_class=Response,
)
def download_package(ctx: CtxDep, who: Who, school: str, platform: str | None = None) -> Response:
    p = ctx.platform_for(who, school, platform)
    require_write(who)
    resp = package_zip(ctx.store, school, p, ctx.timezone(school))
    if resp is None:
        raise ApiError(404, "nothing", "nothing to package: no open package items")
    audit(ctx.store, who, "download.package", school=school)
    return resp


PlanState = Literal["planned", "approved", "applying", "applied", "awaiting_entry", "verified"]


@router.get("/migrations", summary="Migration plans, newest first")
async def list_migrations(
    ctx: CtxDep,
    who: Who,
    school: str | None = None,
    state: PlanState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    if school is not None:
        ctx.visible_school(who, school)
    _migrations.check_cursor(cursor)
    rows = _migrations.plans_of(ctx, who, school, state)
    page = keyset(rows, _migrations.plan_key, cursor, limit)
    return {
        "items": [_migrations.plan_json(ctx, r) for r in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get(
    "/migrations/{plan_id}",
    summary="A migration plan: counts per entity, state, review pending, the certificate",
)
async def get_migration(ctx: CtxDep, who: Who, plan_id: str) -> dict[str, Any]:
    row = _migrations.visible_plan(ctx, who, plan_id)
    return _migrations.plan_json(ctx, _migrations.summary_of(row), row)


@router.post(
    "/migrations/{plan_id}/approve",
    summary="Approve a migration plan (refused while identities wait for review)",
)
async def approve_migration(ctx: CtxDep, who: Who, plan_id: str) -> dict[str, Any]:
    row = await run_in_threadpool(_migrations.approve, ctx, who, plan_id)
    return _migrations.plan_json(ctx, _migrations.summary_of(row), row)


@router.get(
    "/migrations/{plan_id}/plan.xlsx",
    summary="The plan's summary in Russian (XLSX)",
    response_class=Response,
)
def download_migration_plan(ctx: CtxDep, who: Who, plan_id: str) -> Response:
    row = _migrations.visible_plan(ctx, who, plan_id)
    return _migrations.plan_file(ctx, who, row)


@router.get(
    "/migrations/{plan_id}/certificate.{fmt}",
    summary="The migration's certificate (JSON or printable PDF), once verified",
    response_class=Response,
)
def download_certificate(
    ctx: CtxDep, who: Who, plan_id: str, fmt: Literal["json", "pdf"]
) -> Response:
    row = _migrations.visible_plan(ctx, who, plan_id)
    return _migrations.certificate_file(ctx, who, row, fmt)


@router.get(
    "/migrations/{plan_id}/review.{fmt}",
    summary="The identities waiting for the operator's review (not for the auditor)",
    response_class=Response,
)
def download_review(ctx: CtxDep, who: Who, plan_id: str, fmt: Literal["xlsx", "csv"]) -> Response:
    row = _migrations.visible_plan(ctx, who, plan_id)
    return _migrations.review_file(ctx, who, row, fmt)


@router.get("/audit", summary="Who did what, when (administrators)")
async def list_audit(
    ctx: CtxDep, who: Who, limit: Limit = 100, cursor: Cursor = None
) -> dict[str, Any]:
    require_admin(who)

    after = decode_cursor(cursor)
    before = after[0] if after else None
    if before is not None and not isinstance(before, int):
        raise ConfigError("the cursor is damaged: use the next_cursor of the last page")
    entries = audit_entries(ctx.store, before=before, limit=limit + 1)
    shown = entries[:limit]
    nxt = encode_cursor([shown[-1].seq]) if len(entries) > limit else None
    return {"items": [e.as_json() for e in shown], "next_cursor": nxt}


def json_error(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)
