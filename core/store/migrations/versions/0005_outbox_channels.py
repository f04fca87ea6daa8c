"""outbox channels: items queued without the connector's capabilities go to the offered channel

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Before this revision ``journalsync drift`` reconciled without the connector's capabilities, so
every change it queued fell back to the worklist channel — also NetSchool marks, which have a
write API — and ``push`` never sent them ("awaiting hand entry").

Which channel is right is a fact about the platform's connector, which core does not know: the
connectors are plugins found through the ``journalsync.platforms`` entry points. So:

* this migration moves, for every connector installed when it runs (read through that
  registry, not imported by name), the unsent items waiting on a channel the platform does not
  offer for their entity (:func:`core.store._outbox.rechannel`); a connector that fails to load
  is skipped and its items wait for the second mechanism;
* the same move runs in core whenever the capabilities are at hand — at the start of every
  reconcile and every push (``Store.rechannel``). That is the guarantee, not this migration:
  a migration runs once, so a connector installed later, or an older process still queueing
  on the same PostgreSQL store during an upgrade, would otherwise strand items again.

The migration makes an upgraded store right at once (a ``push`` right after the upgrade sends
the items); the run-time move keeps it right. Nothing changes in the schema, so the downgrade
has nothing to undo (moving items back onto a channel that is never sent would only strand
them again).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

import sqlalchemy as sa
from alembic import op

from core.logging import get_logger
from core.store._outbox import rechannel

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = get_logger(__name__)


def upgrade() -> None:
    conn = op.get_bind()
    waiting = sa.text(
        "SELECT DISTINCT platform FROM outbox WHERE status IN ('pending', 'awaiting_entry')"
    )
    queued = set(conn.execute(waiting).scalars())
    if not queued:
        return  # a new store, or nothing unsent: no connector needs loading
    for ep in entry_points(group="journalsync.platforms"):
        if ep.name not in queued:
            continue
        try:
            capabilities = ep.load().connector.capabilities
        except Exception as exc:  # a broken plugin must not stop the store from opening
            log.warning("outbox not checked at upgrade", platform=ep.name, error=type(exc).__name__)
            continue
        moved = rechannel(conn, ep.name, capabilities)
        if moved:
            log.info("outbox items moved to the channel offered", platform=ep.name, count=moved)


def downgrade() -> None:
    pass
