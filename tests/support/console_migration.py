"""Migration plans in a console world's store, made by the same functions ``journalsync migrate
plan`` and ``verify`` use: a school's snapshot on its platform is the source; the target is the
same school's roster and timetable (no journal) under another platform — as the sandbox's
``--journal empty`` serves it — with ``missing`` pupils absent, so those wait for review."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from core.migrate import (
    JOURNAL_ORDER,
    Describer,
    build_plan,
    certificate,
    match_identities,
    plan_to_json,
)
from core.model import Person, Record
from core.platform import connector_class, platform_title, platforms
from core.store import Store

__all__ = ["make_plan", "verify_plan", "world_plans"]

JOURNAL = frozenset(JOURNAL_ORDER) - {"lesson"}


def _sources(store: Store, school: str, platform: str) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {}
    for r in store.remote_records(school, platform):
        out.setdefault(r.ENTITY, []).append(r)
    return out


def _side(platform: str) -> dict[str, str]:
    return {"binding": platform, "platform": platform, "title": platform_title(platform)}


def make_plan(
    store: Store,
    school: str,
    source_platform: str,
    target_platform: str,
    *,
    missing: int = 0,
) -> str:
    """Plan the move of ``school`` from its ``source_platform`` snapshot; returns the plan id."""
    mine = _sources(store, school, source_platform)
    pupils = [
        p.id for p in mine.get("person", []) if isinstance(p, Person) and "student" in p.roles
    ]
    gone = set(pupils[:missing])
    theirs = {
        e: [r for r in recs if r.id not in gone] for e, recs in mine.items() if e not in JOURNAL
    }
    flat = [r for recs in mine.values() for r in recs]
    other = [r for recs in theirs.values() for r in recs]
    matches = match_identities(flat, other)
    store.save_matches(school, source_platform, target_platform, matches, actor="test")
    describe = Describer(mine)
    labels = {
        m.source_id: describe("", m.source_id, describe.by_id.get(m.source_id))
        for m in matches.matches
    }
    plan = build_plan(
        school=school,
        source=_side(source_platform),
        target=_side(target_platform),
        source_records=mine,
        target_records=theirs,
        id_map=matches.id_map(),
        source_capabilities=connector_class(source_platform).capabilities,
        target_capabilities=connector_class(target_platform).capabilities,
        matches=matches.matches,
        target_title=platform_title(target_platform),
        labels=labels,
    )
    plan.pending_review = len(matches.pending())
    plan_id = uuid.uuid4().hex[:12]
    data: dict[str, Any] = plan_to_json(plan, plan_id=plan_id)
    store.save_plan(
        plan_id,
        school=school,
        source=(source_platform, source_platform),
        target=(target_platform, target_platform),
        counts=data["counts"],
        data=data,
    )
    return plan_id


def verify_plan(store: Store, plan_id: str, shown: Sequence[str] = ()) -> dict[str, Any]:
    """The certificate against the target as if everything planned had arrived (and the plan
    moved on as ``migrate verify`` moves it)."""
    from core.migrate import plan_from_json

    row = store.plan(plan_id)
    plan = plan_from_json(row.data)
    mine = _sources(store, row.school, row.source_platform)
    theirs: dict[str, list[Record]] = {}
    for i in plan.items:
        if i.record is not None and i.op in ("add", "update", "unchanged", "conflict"):
            theirs.setdefault(i.entity, []).append(i.record)
    for e, recs in mine.items():
        if e not in JOURNAL and e != "lesson":
            theirs.setdefault(e, list(recs))
    store.set_plan_state(plan_id, "approved", approved_by="test")
    store.set_plan_state(plan_id, "applied")
    cert = certificate(
        plan,
        plan_id=plan_id,
        target_records=theirs,
        target_capabilities=connector_class(row.target_platform).capabilities,
        outbox_status={},
        describe=Describer(theirs, mine),
        source_capabilities=connector_class(row.source_platform).capabilities,
    )
    store.set_plan_state(plan_id, "verified" if cert["complete"] else "applied", certificate=cert)
    return cert


def world_plans(store: Store, own: tuple[str, str], other: tuple[str, str]) -> dict[str, str]:
    """Plans at two schools, each ``(slug, platform)``: at ``own`` one waiting for review
    (two pupils missing on the target), one ready to approve and one verified with a pupil
    still missing (its certificate names them); at ``other`` one waiting and one verified.
    Targets are other platforms of the registry."""
    (school, platform), (far, far_platform) = own, other
    to = [p for p in sorted(platforms()) if p != platform]
    far_to = [p for p in sorted(platforms()) if p != far_platform]
    cert = make_plan(store, school, platform, to[2], missing=1)
    verify_plan(store, cert)
    far_cert = make_plan(store, far, far_platform, far_to[2], missing=1)
    verify_plan(store, far_cert)
    return {
        "pending": make_plan(store, school, platform, to[0], missing=2),
        "ready": make_plan(store, school, platform, to[1]),
        "cert": cert,
        "other_pending": make_plan(store, far, far_platform, far_to[0], missing=2),
        "other_cert": far_cert,
    }
