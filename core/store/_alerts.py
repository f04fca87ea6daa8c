"""What each alert channel was last told about each alert condition (``scheduler/alerts``).

A channel is told "firing" once when a condition starts and "resolved" once when it clears. The
move is claimed in the store *before* the channel is told (:meth:`AlertStore.claim_notice`,
under the row's lock), so two checks at once (the scheduler and ``journalsync alerts check``
from cron) never both send; when telling the channel fails the claim is put back
(:meth:`AlertStore.restore_notice`) and the next check tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, select

from core.store._base import StoreBase, utcnow
from core.store._schema import alert_notices

__all__ = ["AlertNotice", "AlertStore"]

_a = alert_notices.c


@dataclass(frozen=True, slots=True)
class AlertNotice:
    channel: str
    key: str
    kind: str
    school: str
    platform: str
    #: "firing" or "resolved": what the channel was last told.
    told: str
    summary: str
    #: When the condition began (firing) or cleared (resolved).
    since: datetime
    #: When the channel was told.
    at: datetime


class AlertStore(StoreBase):
    def alert_notices(
        self, channel: str | None = None, *, told: str | None = None
    ) -> list[AlertNotice]:
        """The notices (of one channel, in one state), oldest condition first."""
        stmt = select(alert_notices)
        if channel is not None:
            stmt = stmt.where(_a.channel == channel)
        if told is not None:
            stmt = stmt.where(_a.told == told)
        stmt = stmt.order_by(_a.since, _a.key, _a.channel)
        with self._read() as conn:
            return [AlertNotice(**row._mapping) for row in conn.execute(stmt)]

    def claim_notice(
        self,
        channel: str,
        key: str,
        told: str,
        *,
        kind: str,
        school: str,
        platform: str,
        summary: str,
        since: datetime,
    ) -> tuple[bool, AlertNotice | None]:
        """Record that ``channel`` is being told ``told`` about ``key``.

        Returns ``(claimed, previous)``: ``claimed`` is False when the channel was already told
        so (nothing to send); ``previous`` is the notice before the claim (``None``: none), to
        give back to :meth:`restore_notice` when the sending fails.
        """
        with self._write() as conn:
            before = _get(conn, channel, key, lock=True)
            if before is not None and before.told == told:
                return False, before
            values = {
                "kind": kind[:32],
                "school": school,
                "platform": platform,
                "told": told,
                "summary": summary,
                "since": since,
                "at": utcnow(),
            }
            if before is None:
                conn.execute(alert_notices.insert().values(channel=channel, key=key, **values))
            else:
                conn.execute(alert_notices.update().where(_match(channel, key)).values(**values))
        return True, before

    def restore_notice(self, channel: str, key: str, previous: AlertNotice | None) -> None:
        """Put back what :meth:`claim_notice` replaced (the channel could not be told)."""
        with self._write() as conn:
            conn.execute(alert_notices.delete().where(_match(channel, key)))
            if previous is not None:
                conn.execute(
                    alert_notices.insert().values(
                        channel=previous.channel,
                        key=previous.key,
                        kind=previous.kind,
                        school=previous.school,
                        platform=previous.platform,
                        told=previous.told,
                        summary=previous.summary,
                        since=previous.since,
                        at=previous.at,
                    )
                )


def _match(channel: str, key: str) -> ColumnElement[bool]:
    return (_a.channel == channel) & (_a.key == key)


def _get(conn: Connection, channel: str, key: str, *, lock: bool) -> AlertNotice | None:
    stmt = select(alert_notices).where(_match(channel, key))
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return AlertNotice(**row._mapping) if row is not None else None
