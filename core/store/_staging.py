"""A page's plan (what applying it would do) and the staging of pages a pull must not apply yet.

A pull stages a page that would delete, change, leave unreadable or move live records (from
another page's scope into its own), instead of applying it; the pull weighs all it staged
against its change limits when it ends, and either applies the pages or holds them for a person
(:class:`core.store._staged.StagedStore`). The page is kept whole — its records as their own
content JSON, its quarantine, its scope — so that approving the pull applies exactly what was
read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, delete

from core.connector import Page, Quarantined
from core.model import Record, record_from_data
from core.store._base import utcnow
from core.store._schema import staged_pages

__all__ = ["EFFECT_KINDS", "PagePlan", "page_from_json", "stage_page", "supersede_staged"]

#: What a page can do to live records, as counted against the pull's limits.
EFFECT_KINDS = ("deletes", "updates", "stale", "moves")

_s = staged_pages.c


@dataclass(slots=True)
class PagePlan:
    """What applying one page would do, read from the snapshot before anything is written."""

    page: Page
    #: The page's records by id (the last occurrence of an id wins).
    records: dict[str, Record]
    #: id → (content hash, deleted, scope, school, stale) of the records already stored.
    existing: dict[str, tuple[str, bool, str, str, bool]]
    #: Live records of the scope the page no longer lists: marked deleted (id → entity).
    gone: dict[str, str] = field(default_factory=dict)
    #: Live records the page lost while quarantining records of their entity: kept, stale.
    stale: dict[str, str] = field(default_factory=dict)
    #: Content changes of live records, per entity.
    updates: Counter[str] = field(default_factory=Counter)
    #: Live records, unchanged, that another scope (page) held until now, per entity. A page
    #: that takes records from another page is how a misread page layout looks (wrong term
    #: dates, an empty answer read as data): the other page then no longer owns them, and its
    #: own re-read cannot delete or restore them.
    moves: Counter[str] = field(default_factory=Counter)
    #: Records unchanged but for their provenance (platform ids, times): rewritten, no change.
    provenance: set[str] = field(default_factory=set)

    @property
    def destructive(self) -> bool:
        return bool(self.gone or self.stale or self.updates or self.moves)

    def effects(self) -> dict[str, dict[str, int]]:
        """Per entity, how many live records it would delete, change, leave stale and move."""
        out: dict[str, Counter[str]] = {}
        for kind, entities in (
            ("deletes", Counter(self.gone.values())),
            ("updates", self.updates),
            ("stale", Counter(self.stale.values())),
            ("moves", self.moves),
        ):
            for entity, n in entities.items():
                out.setdefault(entity, Counter())[kind] += n
        return {entity: dict(kinds) for entity, kinds in out.items()}


def page_to_json(page: Page) -> str:
    return orjson.dumps(
        {
            "stream": page.stream,
            "scope": page.scope,
            "complete_for": sorted(page.complete_for),
            "records": [
                [
                    r.ENTITY,
                    r.content_json.decode(),
                    r.provenance.to_json().decode() if r.provenance is not None else None,
                ]
                for r in page.records
            ],
            "quarantine": [
                [q.entity, q.record, q.field, q.reason, q.payload] for q in page.quarantine
            ],
            # A family-account page's view: without it, applying the staged page would delete
            # what the accounts merely no longer see.
            "visible_members": (
                {g: sorted(m) for g, m in page.visible_members.items()}
                if page.visible_members is not None
                else None
            ),
            "seen_pupils": sorted(page.seen_pupils) if page.seen_pupils is not None else None,
        }
    ).decode()


def page_from_json(text: str) -> Page:
    """The staged page as it was read (its cursor is not kept: it was committed then)."""
    raw: dict[str, Any] = orjson.loads(text)
    return Page(
        stream=raw["stream"],
        scope=raw["scope"],
        records=[
            record_from_data(entity, orjson.loads(data), orjson.loads(prov) if prov else None)
            for entity, data, prov in raw["records"]
        ],
        cursor={},
        quarantine=[Quarantined(*q) for q in raw["quarantine"]],
        complete_for=frozenset(raw["complete_for"]),
        visible_members=(
            {g: frozenset(m) for g, m in visible.items()}
            if (visible := raw.get("visible_members")) is not None
            else None
        ),
        seen_pupils=frozenset(seen) if (seen := raw.get("seen_pupils")) is not None else None,
    )


def stage_page(
    conn: Connection, school: str, platform: str, plan: PagePlan, run_id: str | None
) -> None:
    page = plan.page
    conn.execute(
        staged_pages.insert().values(
            platform=platform,
            school=school,
            stream=page.stream,
            scope=page.scope,
            run_id=run_id,
            hold=None,
            effects=plan.effects(),
            page=page_to_json(page),
            at=utcnow(),
        )
    )


def supersede_staged(conn: Connection, school: str, platform: str, scope: str) -> None:
    """A newer read of ``scope`` replaces whatever an earlier pull staged of it."""
    conn.execute(
        delete(staged_pages).where(_s.platform == platform, _s.school == school, _s.scope == scope)
    )
