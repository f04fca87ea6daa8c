"""Migration plans in the console (issue 15 through issue 16): a plan in words, its approval by
a person, and its documents — the plan's summary (XLSX), the certificate (JSON, PDF) and the
review file (XLSX, CSV) — written by the same code as ``journalsync migrate`` into a private
temporary directory.

Roles: a school operator sees the plans of their schools only (another school's plan is 404),
approves there; the auditor reads, approves nothing, and gets the documents with every person as
initials — except the review file, which is a list of pupils with their birth dates and nothing
else: for the auditor it does not exist (404)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi.responses import Response
from sqlalchemy import func, select

from console._context import ApiError, Ctx, not_found, require_write
from console._data import initials, local_time
from console._downloads import _attachment as attachment
from console._paging import decode_cursor
from console._tokens import Principal, audit
from core.errors import ConfigError
from core.files import private_dir
from core.migrate import (
    ENTITY_TITLES,
    JOURNAL_ORDER,
    ROSTER_ORDER,
    plan_from_json,
    plan_meta,
    write_certificate,
    write_plan_files,
    write_review,
)
from core.model import Person, Record
from core.platform import platform_title
from core.store import PlanRow, Store, migration_plans

__all__ = [
    "PLAN_STATE_TEXT",
    "EntityLine",
    "PlanSummary",
    "approve",
    "certificate_file",
    "check_cursor",
    "entity_lines",
    "masked_certificate",
    "masked_plan",
    "plan_file",
    "plan_json",
    "plan_key",
    "plans_of",
    "review_file",
    "summary_of",
    "visible_plan",
]

PLAN_STATE_TEXT = {
    "planned": "ждёт утверждения",
    "approved": "утверждён",
    "applying": "переносится",
    "applied": "перенесён, ждёт проверки",
    "awaiting_entry": "ждёт ручного ввода",
    "verified": "проверен, перенос завершён",
}


def _actor(who: Principal) -> str:
    return f"{who.name} (console)"


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """A plan for a listing: everything but the plan's items and the certificate's lists (a
    thousand-pupil school's plan is megabytes of JSON; a listing reads none of it)."""

    id: str
    school: str
    source_binding: str
    source_platform: str
    target_binding: str
    target_platform: str
    state: str
    counts: dict[str, Any]
    review_pending: int
    has_certificate: bool
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    approved_by: str | None


#: ``pending_review`` as ``plan_to_json`` writes it: among the first keys of the plan's JSON.
_PENDING = re.compile(r'"pending_review":\s*(\d+)')
_HEAD = 2000


def summary_of(row: PlanRow) -> PlanSummary:
    return PlanSummary(
        id=row.id,
        school=row.school,
        source_binding=row.source_binding,
        source_platform=row.source_platform,
        target_binding=row.target_binding,
        target_platform=row.target_platform,
        state=row.state,
        counts=row.counts,
        review_pending=int(row.data.get("pending_review") or 0),
        has_certificate=row.certificate is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
    )


def plans_of(
    ctx: Ctx, who: Principal, school: str | None = None, state: str | None = None
) -> list[PlanSummary]:
    """The plans the caller may see, newest first, read without their items."""
    c = migration_plans.c
    stmt = select(
        c.id,
        c.school,
        c.source_binding,
        c.source_platform,
        c.target_binding,
        c.target_platform,
        c.state,
        c.counts,
        func.substr(c.data, 1, _HEAD).label("head"),
        c.certificate.is_not(None).label("has_certificate"),
        c.created_at,
        c.updated_at,
        c.approved_at,
        c.approved_by,
    )
    scope = ctx.scope(who)
    if scope is not None:
        stmt = stmt.where(c.school.in_(sorted(scope)))
    if school is not None:
        stmt = stmt.where(c.school == school)
    if state is not None:
        stmt = stmt.where(c.state == state)
    out = []
    with ctx.store.engine.connect() as conn:
        for r in conn.execute(stmt):
            m = r._mapping
            found = _PENDING.search(m["head"] or "")
            if found is None:  # not where plan_to_json puts it: read the whole plan
                summary = summary_of(ctx.store.plan(m["id"]))
            else:
                summary = PlanSummary(
                    id=m["id"],
                    school=m["school"],
                    source_binding=m["source_binding"],
                    source_platform=m["source_platform"],
                    target_binding=m["target_binding"],
                    target_platform=m["target_platform"],
                    state=m["state"],
                    counts=orjson.loads(m["counts"]),
                    review_pending=int(found.group(1)),
                    has_certificate=bool(m["has_certificate"]),
                    created_at=m["created_at"],
                    updated_at=m["updated_at"],
                    approved_at=m["approved_at"],
                    approved_by=m["approved_by"],
                )
            out.append(summary)
    out.sort(key=plan_key)
    return out


def plan_key(row: PlanSummary) -> tuple[int, str]:
    """Newest first (microseconds since the epoch, negated), then by id: the cursor's key."""
    return (-round(row.created_at.timestamp() * 1_000_000), row.id)


def check_cursor(cursor: str | None) -> None:
    """A cursor of this list carries ``[int, str]``; anything else is damaged (400)."""
    after = decode_cursor(cursor)
    if after is not None and not (
        len(after) == 2 and isinstance(after[0], int) and isinstance(after[1], str)
    ):
        raise ConfigError("the cursor is damaged: use the next_cursor of the last page")


def visible_plan(ctx: Ctx, who: Principal, plan_id: str) -> PlanRow:
    """The plan, or 404 — for no such plan and another school's plan alike."""
    try:
        row = ctx.store.plan(plan_id)
    except ConfigError:
        raise not_found("migration plan") from None
    if not who.sees(row.school):
        raise not_found("migration plan")
    return row


def _pending(row: PlanRow) -> int:
    return summary_of(row).review_pending


def _certificate_summary(cert: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cert:
        return None
    return {
        "complete": bool(cert.get("complete")),
        "entities": {
            e: {
                k: c.get(k, 0 if k != "explained" else {})
                for k in ("source", "target", "matched", "explained", "awaited", "unexplained")
            }
            for e, c in cert.get("entities", {}).items()
        },
        "unexplained": sum(c.get("unexplained", 0) for c in cert.get("entities", {}).values()),
        "awaited": sum(c.get("awaited", 0) for c in cert.get("entities", {}).values()),
    }


def plan_json(ctx: Ctx, plan: PlanSummary, row: PlanRow | None = None) -> dict[str, Any]:
    """A plan in the API; with ``row`` (the whole plan) its counts, reasons and certificate."""
    zone = ctx.timezone(plan.school)
    out: dict[str, Any] = {
        "id": plan.id,
        "school": plan.school,
        "source": {"binding": plan.source_binding, "platform": plan.source_platform},
        "target": {"binding": plan.target_binding, "platform": plan.target_platform},
        "state": plan.state,
        "review_pending": plan.review_pending,
        "created_at": plan.created_at.isoformat(),
        "updated_at": plan.updated_at.isoformat(),
        "local_time": local_time(plan.created_at, zone),
        "approved_at": plan.approved_at.isoformat() if plan.approved_at else None,
        "approved_by": plan.approved_by,
        "verified": plan.state == "verified",
        "has_certificate": plan.has_certificate,
    }
    if row is not None:
        out["counts"] = row.counts
        out["reasons"] = {
            code: r.get("text", "") for code, r in (row.data.get("reasons") or {}).items()
        }
        out["certificate"] = _certificate_summary(row.certificate)
        out["documents"] = documents(plan)
    return out


def documents(plan: PlanSummary) -> dict[str, bool]:
    """Which of the plan's documents exist."""
    return {
        "plan_xlsx": True,
        "certificate_pdf": plan.has_certificate,
        "certificate_json": plan.has_certificate,
        "review": plan.review_pending > 0,
    }


# --- the plan in words -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityLine:
    """One entity's row on the plan page."""

    title: str
    source: int
    added: int
    updated: int
    conflicts: int
    explained: list[tuple[str, int]]  # (reason in words, count)
    awaited: int | None  # from the certificate (None: not verified yet)
    unexplained: int | None
    other: str  # roster: matched / to create / waiting for review


_ROSTER_TEXT = {
    "matched": "сопоставлено",
    "needed": "нет в новой системе",
    "pending": "ждут решения",
    "rejected": "отклонено",
}


def entity_lines(row: PlanRow) -> list[EntityLine]:
    reasons = {code: r.get("text", code) for code, r in (row.data.get("reasons") or {}).items()}
    cert = (row.certificate or {}).get("entities", {})
    lines = []
    for entity in (*ROSTER_ORDER, *JOURNAL_ORDER):
        c = row.counts.get(entity)
        if not c:
            continue
        v = cert.get(entity) or {}
        explained = dict(c.get("explained") or {})
        if v:  # verified: what the target holds, explained by reason
            explained = dict(v.get("explained") or {})
        other = ""
        if entity in ROSTER_ORDER:
            other = ", ".join(
                f"{_ROSTER_TEXT.get(k, k)}: {n}" for k, n in c.items() if k != "source" and n
            )
        else:
            blocked, not_carried = c.get("blocked", 0), c.get("not_carried", 0)
            bits = []
            if not_carried:
                bits.append(f"не переносится: {not_carried}")
            if blocked:
                bits.append(f"нет сопоставления: {blocked}")
            other = ", ".join(bits)
        lines.append(
            EntityLine(
                title=ENTITY_TITLES.get(entity, entity),
                source=int(c.get("source", 0)),
                added=int(c.get("add", 0)),
                updated=int(c.get("update", 0)),
                conflicts=int(c.get("conflict", 0)),
                explained=[
                    (_reason_text(reasons, k), int(n)) for k, n in sorted(explained.items())
                ],
                awaited=int(v.get("awaited", 0)) if v else None,
                unexplained=int(v.get("unexplained", 0)) if v else None,
                other=other,
            )
        )
    return lines


def _reason_text(reasons: Mapping[str, str], code: str) -> str:
    if code in reasons:
        return reasons[code]
    if code.startswith("not_carried:"):
        return "новая система не хранит это поле"
    return "различие пояснено таблицей платформы"


# --- approving -------------------------------------------------------------------------------


def approve(ctx: Ctx, who: Principal, plan_id: str) -> PlanRow:
    """Approve a plan (as ``journalsync migrate approve``), recorded with who and when."""
    require_write(who)
    row = visible_plan(ctx, who, plan_id)
    if row.state != "planned":
        raise ApiError(409, "conflict", f"the plan is already {row.state}")
    waiting = _pending(row)
    if waiting:
        raise ApiError(
            409,
            "review_pending",
            f"{waiting} identities wait for the operator's review: the plan cannot be approved",
            "decide them in the review file and plan again with `journalsync migrate plan"
            " --review FILE`",
        )
    ctx.store.set_plan_state(row.id, "approved", approved_by=_actor(who))
    audit(ctx.store, who, "migration.approve", school=row.school, target=row.id)
    return ctx.store.plan(row.id)


# --- documents -------------------------------------------------------------------------------


def _snapshot(store: Store, school: str, platform: str) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in store.remote_records(school, platform):
        out.setdefault(r.ENTITY, []).append(r)
    return out


def _school_name(ctx: Ctx, school: str) -> str:
    sp = ctx.plan_school(school)
    return sp.name if sp is not None else school


def _meta(ctx: Ctx, row: PlanRow, at: datetime) -> list[str]:
    return plan_meta(
        _school_name(ctx, row.school),
        platform_title(row.source_platform),
        platform_title(row.target_platform),
        at,
        ctx.timezone(row.school),
    )


def _names(store: Store, row: PlanRow) -> re.Pattern[str] | None:
    """Every way the documents name a person of the school (full and «Фамилия И. О.»), as one
    pattern, longest first."""
    found: set[str] = set()
    for platform in (row.source_platform, row.target_platform):
        for p in store.remote_records(row.school, platform, "person", include_deleted=True):
            if not isinstance(p, Person):
                continue
            full = " ".join(x for x in (p.last_name, p.first_name, p.middle_name) if x)
            found |= {n for n in (full, p.short_name) if n and len(n) > 2}
    if not found:
        return None
    return re.compile("|".join(re.escape(n) for n in sorted(found, key=len, reverse=True)))


def _mask_text(text: str, names: re.Pattern[str] | None) -> str:
    return names.sub(lambda m: initials(m.group(0)), text) if names is not None else text


def _mask_entries(
    entries: list[dict[str, Any]], field: str, names: re.Pattern[str] | None
) -> list[dict[str, Any]]:
    """A person's own entry is their name (initials then); any other names people in it."""
    out = []
    for e in entries:
        e = {k: _mask_text(v, names) if isinstance(v, str) else v for k, v in e.items()}
        text = str(e.get(field) or "")
        e[field] = initials(text) if e.get("entity") == "person" else _mask_text(text, names)
        out.append(e)
    return out


def masked_plan(data: Mapping[str, Any], names: re.Pattern[str] | None) -> dict[str, Any]:
    """The plan's JSON as the auditor gets it: the roster's people as initials (the summary
    names people nowhere else)."""
    return {**data, "roster": _mask_entries(list(data.get("roster") or ()), "label", names)}


def masked_certificate(cert: Mapping[str, Any], names: re.Pattern[str] | None) -> dict[str, Any]:
    """The certificate as the auditor gets it: what is awaited or unexplained, people as
    initials (the counts name nobody)."""
    return {
        **cert,
        "unexplained": _mask_entries(list(cert.get("unexplained") or ()), "what", names),
        "awaited": _mask_entries(list(cert.get("awaited") or ()), "what", names),
    }


def _read(write: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="journalsync-console-") as tmp:
        private_dir(tmp)
        path: Path = write(Path(tmp))
        return path.read_bytes()


def plan_file(ctx: Ctx, who: Principal, row: PlanRow) -> Response:
    """The plan's Russian summary (XLSX), as ``migrate plan`` writes it."""
    data: dict[str, Any] = dict(row.data)
    if who.masks_names:
        data = masked_plan(data, _names(ctx.store, row))
    plan = plan_from_json(data)
    meta = _meta(ctx, row, row.created_at)

    def write(tmp: Path) -> Path:
        return write_plan_files(tmp, data, plan, meta)[1]

    body = _read(write)
    audit(ctx.store, who, "download.migration_plan", school=row.school, target=row.id)
    return attachment(body, f"план-переноса-{row.school}", "xlsx", f"migration-plan-{row.school}")


def certificate_file(ctx: Ctx, who: Principal, row: PlanRow, fmt: str) -> Response:
    """The certificate (JSON or PDF), as ``migrate verify`` writes it; 404 before verify."""
    if row.certificate is None:
        raise ApiError(404, "nothing", "no certificate yet: `journalsync migrate verify` writes it")
    cert: dict[str, Any] = dict(row.certificate)
    if who.masks_names:
        cert = masked_certificate(cert, _names(ctx.store, row))
    meta = [
        *_meta(ctx, row, row.created_at)[:3],
        f"Проверено: {local_time(row.updated_at, ctx.timezone(row.school))}",
    ]

    def write(tmp: Path) -> Path:
        json_path, pdf = write_certificate(tmp, cert, meta=meta)
        return pdf if fmt == "pdf" else json_path

    body = _read(write)
    audit(ctx.store, who, "download.certificate", school=row.school, target=row.id, detail=fmt)
    return attachment(body, f"акт-переноса-{row.school}", fmt, f"certificate-{row.school}")


def review_file(ctx: Ctx, who: Principal, row: PlanRow, fmt: str) -> Response:
    """The identities waiting for the operator (XLSX or CSV) from the saved matches.

    A list of pupils with birth dates and nothing else: not for the auditor (404)."""
    if who.masks_names:
        raise not_found("review file")
    matches = ctx.store.load_matches(row.school, row.source_platform, row.target_platform)
    if _pending(row) == 0 or matches is None or not matches.pending():
        raise ApiError(404, "nothing", "nothing waits for review in this plan")
    mine = _snapshot(ctx.store, row.school, row.source_platform)
    theirs = _snapshot(ctx.store, row.school, row.target_platform)

    def write(tmp: Path) -> Path:
        xlsx, csv_path = write_review(
            matches,
            [r for recs in mine.values() for r in recs],
            [r for recs in theirs.values() for r in recs],
            tmp,
        )
        return xlsx if fmt == "xlsx" else csv_path

    body = _read(write)
    audit(ctx.store, who, "download.review", school=row.school, target=row.id, detail=fmt)
    return attachment(body, f"сопоставление-{row.school}", fmt, f"review-{row.school}")
