"""What a person does through the console — approve or discard a held run, start a run,
resolve a drift finding — each checked against the role, done by the same code the command
line uses, and written to the audit log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from console._context import ApiError, Ctx, not_found, require_write
from console._data import RESOLUTIONS, find_finding, resolve_finding
from console._tokens import Principal, audit
from core.errors import ConfigError
from core.logging import get_logger
from core.store import Run, SchoolBusy, SchoolLock
from scheduler import OPERATIONS, Runner, approve_run, discard_run

__all__ = ["approve", "discard", "resolve", "trigger", "visible_run"]

log = get_logger(__name__)

#: Seconds a console action waits for a run of the same school to finish.
LOCK_WAIT = 10.0


def _actor(who: Principal) -> str:
    return f"{who.name} (console)"


def visible_run(ctx: Ctx, who: Principal, run_id: str) -> Run:
    try:
        run = ctx.store.get_run(run_id)
    except KeyError:
        raise not_found("run") from None
    if not who.sees(run.school):
        raise not_found("run")
    return run


async def approve(ctx: Ctx, who: Principal, run_id: str) -> Run:
    require_write(who)
    run = visible_run(ctx, who, run_id)
    try:
        report = await approve_run(ctx.plan, ctx.store, run.id, actor=_actor(who))
    except ConfigError as exc:
        raise ApiError(409, "conflict", exc.message, exc.hint) from None
    audit(ctx.store, who, "run.approve", school=run.school, target=run.id, detail=run.operation)
    return report.run


def discard(ctx: Ctx, who: Principal, run_id: str) -> Run:
    require_write(who)
    run = visible_run(ctx, who, run_id)
    try:
        done = discard_run(ctx.store, run.id, actor=_actor(who))
    except ConfigError as exc:
        raise ApiError(409, "conflict", exc.message, exc.hint) from None
    audit(ctx.store, who, "run.discard", school=run.school, target=run.id, detail=run.operation)
    return done


def trigger(ctx: Ctx, who: Principal, slug: str, operation: str) -> dict[str, Any]:
    """Start the school's run of ``operation`` now (in the background); returns its key."""
    require_write(who)
    ctx.visible_school(who, slug)
    if operation not in OPERATIONS:
        raise ApiError(422, "invalid", f"operation must be one of {', '.join(OPERATIONS)}")
    sp = ctx.plan_school(slug)
    if ctx.plan is None or sp is None:
        raise ApiError(409, "conflict", "this school is not in the config: nothing to run it with")
    now = datetime.now(UTC)
    key = f"{sp.slug}:{sp.platform}:{operation}:console:{uuid.uuid4().hex[:12]}"
    runner = Runner(ctx.plan, ctx.store, lock_wait=LOCK_WAIT)
    task = asyncio.get_running_loop().create_task(
        runner.run_school(sp, operation, now, scheduled=False, key=key)
    )
    ctx.tasks.add(task)
    task.add_done_callback(ctx.tasks.discard)
    audit(ctx.store, who, "run.trigger", school=slug, target=key, detail=operation)
    from core.store import run_id_for

    return {"run_key": key, "run_id": run_id_for(key), "operation": operation}


async def resolve(
    ctx: Ctx, who: Principal, finding_id: str, action: str, comment: str
) -> dict[str, Any]:
    require_write(who)
    if action not in RESOLUTIONS:
        raise ApiError(422, "invalid", f"action must be one of {', '.join(RESOLUTIONS)}")
    if action == "accept_difference" and not comment.strip():
        raise ApiError(422, "invalid", "accepting a difference needs a comment saying why")
    finding = find_finding(ctx.store, finding_id)
    if finding is None or not who.sees(finding.school):
        raise not_found("finding")
    lock = SchoolLock(ctx.store, finding.school, wait=LOCK_WAIT)
    try:
        await lock.acquire_async()
    except SchoolBusy:
        raise ApiError(
            409, "busy", "a run of this school is going on; try again when it ends"
        ) from None
    try:
        done = await asyncio.to_thread(
            resolve_finding, ctx.store, finding, action, actor=_actor(who), comment=comment
        )
    except ConfigError as exc:
        raise ApiError(409, "conflict", exc.message, exc.hint) from None
    finally:
        lock.release()
    audit(
        ctx.store,
        who,
        f"drift.{action}",
        school=finding.school,
        target=finding.id,
        detail=comment.strip(),
    )
    return {"finding": finding.id, **done}
