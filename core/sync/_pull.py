"""Pull: connector pages into the remote snapshot, one transaction per page."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from core.connector import Connector, Page, PullMode
from core.logging import get_logger
from core.store import PageCounts, Store
from core.sync._schema_drift import saves_schema_drift

__all__ = ["PullResult", "pull"]

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
    by_entity: Counter[str] = field(default_factory=Counter)

    def as_counts(self) -> dict[str, int]:
        return {
            "pages": self.pages,
            "records": self.records,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "quarantined": self.quarantined,
        }


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
    """
    target = connector.target
    cursors = store.cursors(target.school, target.platform)
    await connector.login()
    result = PullResult()
    pending: list[Page] = []
    held = 0  # records in pending
    since = 0.0  # when the first pending page arrived

    def flush() -> None:
        nonlocal held
        counted = store.commit_pages(target.school, target.platform, pending, run_id=run_id)
        for page, counts in zip(pending, counted, strict=True):
            _count(result, page, counts)
            if on_page is not None:
                on_page(page, result)
        pending.clear()
        held = 0

    async for page in connector.pull(cursors, mode):
        if not pending:
            since = time.monotonic()
        pending.append(page)
        held += len(page.records) + len(page.quarantine)
        if held >= batch_records or time.monotonic() - since >= batch_seconds:
            flush()
    if pending:
        flush()
    log.info("pull finished", **result.as_counts())
    return result


def _count(result: PullResult, page: Page, counts: PageCounts) -> None:
    result.pages += 1
    result.records += len(page.records)
    result.inserted += counts.inserted
    result.updated += counts.updated
    result.unchanged += counts.unchanged
    result.deleted += counts.deleted
    result.quarantined += counts.quarantined
    result.by_entity.update(r.ENTITY for r in page.records)
    if page.quarantine:
        log.warning(
            "records quarantined",
            stream=page.stream,
            scope=page.scope,
            count=len(page.quarantine),
            reasons=sorted({q.reason for q in page.quarantine})[:5],
        )
