"""Pull: connector pages into the remote snapshot, one transaction per page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from core.connector import Connector, Page, PullMode
from core.logging import get_logger
from core.store import Store

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


async def pull(
    store: Store,
    connector: Connector,
    *,
    mode: PullMode = PullMode.FULL,
    run_id: str | None = None,
    on_page: Callable[[Page, PullResult], None] | None = None,
) -> PullResult:
    """Pull the connector's school into the store.

    The connector resumes from the stored cursors; each page's records, quarantined records and
    cursor are committed together, so a crash at any point loses and duplicates nothing: the
    next pull skips the pages the cursor marks done and re-reads the rest.
    """
    target = connector.target
    cursors = store.cursors(target.school, target.platform)
    await connector.login()
    result = PullResult()
    async for page in connector.pull(cursors, mode):
        counts = store.commit_page(target.school, target.platform, page, run_id=run_id)
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
        if on_page is not None:
            on_page(page, result)
    log.info("pull finished", **result.as_counts())
    return result
