"""Pull: connector pages into the remote snapshot, in batched transactions.

A pull never destroys what it cannot explain (DESIGN.md §4):

* a record the connector cannot read is quarantined and its last good version stays live,
  marked stale (the store's scope replacement does that);
* a page that would delete, change, leave unreadable or move (from another scope) live records
  is staged, not applied; when the pull ends, everything it staged is weighed against the
  change limits (:mod:`core.sync._limits`) and applied, or — over a limit — held for a person
  with the old snapshot kept (:func:`apply_held_pull` applies it after approval);
* a full pass that finds nothing to read, or far fewer scopes than the last full pass of the
  same stream, is an error and is never recorded as complete.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.connector import Connector, Page, PullMode
from core.errors import ContractError
from core.logging import get_logger
from core.store import PageCounts, Store
from core.sync._first_pull import first_pull_mode
from core.sync._limits import DEFAULT_PULL_LIMITS, PullLimits, pull_breaches
from core.sync._schema_drift import saves_schema_drift

__all__ = ["PullResult", "apply_held_pull", "pull"]

log = get_logger(__name__)


@dataclass(slots=True)
class PullResult:
    pages: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    quarantined: int = 0
    #: Live records the pull could not read again: kept, marked stale.
    stale: int = 0
    #: Pages held for a person (see ``held``).
    held_pages: int = 0
    by_entity: Counter[str] = field(default_factory=Counter)
    #: Why the pull was held, in words; empty when it was applied.
    held: str = ""
    #: The id its pages are held under (the run id, when the pull ran in a run).
    hold: str | None = None

    def as_counts(self) -> dict[str, int]:
        counts = {
            "pages": self.pages,
            "records": self.records,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
        }
        if self.stale:
            counts["stale"] = self.stale
        if self.held_pages:
            counts["held_pages"] = self.held_pages
        return counts

    def add(self, counts: PageCounts) -> None:
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.deleted += counts.deleted
        self.quarantined += counts.quarantined
        self.stale += counts.stale


#: Pages are committed together until they hold this many records or the oldest has waited
#: this long (see :func:`pull`).
BATCH_RECORDS = 20_000
BATCH_SECONDS = 1.0


@saves_schema_drift  # unknown, missing and retyped payload fields are saved, even on failure
async def pull(
    store: Store,
    connector: Connector,
    *,
    mode: PullMode = PullMode.FULL,
    run_id: str | None = None,
    on_page: Callable[[Page, PullResult], None] | None = None,
    batch_records: int = BATCH_RECORDS,
    batch_seconds: float = BATCH_SECONDS,
    limits: Mapping[str, PullLimits] | None = DEFAULT_PULL_LIMITS,
) -> PullResult:
    """Pull the connector's school into the store.

    The connector resumes from the stored cursors; each page's records, quarantined records and
    cursor are committed together, so a crash at any point loses and duplicates nothing: the
    next pull skips the pages the cursor marks done and re-reads the rest.

    Small pages are gathered into one transaction (never splitting a page) until they hold
    ``batch_records`` records or, when the next page arrives, the first of them has waited
    ``batch_seconds``: a crash re-reads at most that batch, and the store is spared a commit
    per page (on SQLite each commit rewrites the index pages it touched). ``on_page`` runs
    after each page's commit; hooks that must run between pages pass ``batch_records=1``.

    ``limits`` (per entity; the defaults where ``None`` is not given) decide whether what the
    pull would delete or change is applied or held (module doc): a held pull's ``held`` says
    why. ``limits=None`` applies every page as it comes (a person approved this pull).
    """
    target = connector.target
    school, platform = target.school, target.platform
    mode = first_pull_mode(store, school, platform, mode)
    cursors = store.cursors(school, platform)
    await connector.login()
    result = PullResult()
    passes = _PassCheck(cursors, mode)
    stage = limits is not None
    # A newer read of a scope replaces what an earlier pull staged of it; only looked for
    # when something is staged (a page's scope lookup is otherwise free).
    supersede = store.has_staged(school, platform)
    pending: list[Page] = []
    held = 0  # records in pending
    since = 0.0  # when the first pending page arrived

    def flush() -> None:
        nonlocal held
        counted = store.commit_pages(
            school, platform, pending, run_id=run_id, stage=stage, supersede=supersede
        )
        for page, counts in zip(pending, counted, strict=True):
            _count(result, page, counts)
            if on_page is not None:
                on_page(page, result)
        pending.clear()
        held = 0

    async for page in connector.pull(cursors, mode):
        passes.check(page)
        if page.visible_members is not None and page.seen_pupils is None:
            page.seen_pupils = _seen_pupils(connector)
        if not pending:
            since = time.monotonic()
        pending.append(page)
        held += len(page.records) + len(page.quarantine)
        if held >= batch_records or time.monotonic() - since >= batch_seconds:
            flush()
    if pending:
        flush()
    if limits is not None:
        _settle(store, school, platform, limits, run_id, result)
    log.info("pull finished", **result.as_counts())
    return result


def apply_held_pull(store: Store, school: str, platform: str, hold: str) -> PullResult:
    """Apply a held pull's pages exactly as they were read (a person approved them)."""
    result = PullResult()
    for counts in store.apply_staged(school, platform, hold=hold, run_id=hold):
        result.pages += 1
        result.add(counts)
    log.info("held pull applied", hold=hold, **result.as_counts())
    return result


def _settle(
    store: Store,
    school: str,
    platform: str,
    limits: Mapping[str, PullLimits],
    run_id: str | None,
    result: PullResult,
) -> None:
    """Apply what the pull staged, or hold it when it exceeds the limits."""
    effects = store.staged_effects(school, platform)
    if not effects:
        return
    breaches = pull_breaches(effects, store.remote_counts(school, platform), limits)
    if not breaches:
        for counts in store.apply_staged(school, platform, run_id=run_id):
            result.add(counts)
        return
    result.hold = run_id or f"pull-{uuid.uuid4().hex[:12]}"
    result.held_pages = store.hold_staged(school, platform, result.hold)
    result.held = "; ".join(breaches)
    log.warning(
        "pull held for a person: nothing of the suspicious pages applied",
        reason=result.held,
        pages=result.held_pages,
    )


def _count(result: PullResult, page: Page, counts: PageCounts) -> None:
    result.pages += 1
    result.records += len(page.records)
    result.add(counts)
    result.by_entity.update(r.ENTITY for r in page.records)
    if page.quarantine:
        log.warning(
            "records quarantined",
            stream=page.stream,
            scope=page.scope,
            count=len(page.quarantine),
            reasons=sorted({q.reason for q in page.quarantine})[:5],
        )


#: Cursor key the engine adds: how many scopes the stream's last complete full pass had.
FULL_SCOPES = "scopes_full"


class _PassCheck:
    """Refuses a full pass that finds no scopes, or fewer than half the last full pass's.

    Both are how a platform that answers partially (an action that returns ``[]``, a list
    of classes cut short) looks from here; recording such a pass as complete would make its
    emptiness the school's journal. Stream cursors are ``{"pass", "done", "complete"}``
    (:mod:`core.platform._cursor`); the engine keeps the last full pass's scope count in them.
    """

    def __init__(self, cursors: Mapping[str, Mapping[str, Any]], mode: PullMode) -> None:
        self._full = mode is PullMode.FULL
        self._last: dict[str, int] = {
            stream: int(c[FULL_SCOPES]) for stream, c in cursors.items() if FULL_SCOPES in c
        }

    def check(self, page: Page) -> None:
        cursor = page.cursor
        done = cursor.get("done")
        last = self._last.get(page.stream)
        if self._full and cursor.get("complete") and isinstance(done, list):
            found = len(done)
            if found == 0:
                raise ContractError(
                    f"the full pull found nothing to read in stream {page.stream!r} where "
                    "data was expected; the pass is not recorded as complete",
                    hint="the platform may be answering partially: `journalsync doctor` "
                    "checks each stream",
                )
            if last is not None and found * 2 < last:
                raise ContractError(
                    f"the full pull found {found} scopes in stream {page.stream!r} where the "
                    f"last full pull found {last}; the pass is not recorded as complete",
                    hint="the platform may be answering partially: `journalsync doctor` "
                    "checks each stream",
                )
            page.cursor = {**cursor, FULL_SCOPES: found}
        elif last is not None:
            page.cursor = {**cursor, FULL_SCOPES: last}


def _seen_pupils(connector: Connector) -> frozenset[str] | None:
    """The pupils a family-account pull's accounts show (``None``: the connector does not say):
    the records of a pupil outside it are out of sight, not deleted."""
    if not connector.account_outcomes:
        return None
    return frozenset(
        p.id for o in connector.account_outcomes.values() if o.state == "ok" for p in o.pupils
    )
