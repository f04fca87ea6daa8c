"""The carry-over of offline journals, for ``status``: regulation 002 §13.2 — «При возобновлении
доступа к сервисам АИС СРО необходимо обеспечить перенос данных из временных журналов в
информационную систему в течение 2 рабочих дней».

An entry an offline journal brought (the change log's reason starts with
:data:`core.importer.OFFLINE_REASON`) is carried over once the platform's snapshot holds the same
content — pushed and read back, not merely sent. Until every such entry is, :func:`carry_over`
gives how many are left and the deadline:

* access is taken as back at the first run of the school on that platform, started after the
  offline journal was imported, that finished (``done``): the platform answered a whole pull;
* the 2 working days are counted from the day after that (periods run from the next day, as
  Art. 191 of the Civil Code counts them), Saturdays and Sundays skipped; the deadline is the end
  of the second. Public holidays and moved working days are not known here: around them the
  deadline shown may be earlier than the regulation's, never later.

Until such a run there is no deadline yet (the platform is still down, as far as the store
knows); the entries are shown as waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.store import RunState, Store

#: The change log's reason of the entries an offline journal brought (``status`` looks for it).
OFFLINE_REASON = "offline journal"

__all__ = ["OFFLINE_REASON", "CarryOver", "carry_over", "working_days_after"]


@dataclass(frozen=True, slots=True)
class CarryOver:
    school: str
    platform: str
    #: Entries from offline journals the platform's snapshot does not hold yet.
    pending: int
    #: When the first of them was imported.
    imported_at: datetime
    #: When access came back (the first finished run after the import), if it has.
    resumed_at: datetime | None
    deadline: date | None

    def text(self, today: date) -> str:
        if self.resumed_at is None or self.deadline is None:
            return (
                f"{self.pending} offline-journal entries waiting for the platform (regulation "
                "002 §13.2: carry over within 2 working days once access is back)"
            )
        late = " — OVERDUE" if today > self.deadline else ""
        return (
            f"{self.pending} offline-journal entries not yet on the platform; deadline "
            f"{self.deadline:%Y-%m-%d} (regulation 002 §13.2: 2 working days after access came "
            f"back on {self.resumed_at:%Y-%m-%d}){late}"
        )


def working_days_after(day: date, n: int) -> date:
    """The ``n``-th working day (Monday–Friday) after ``day``."""
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def carry_over(
    store: Store, school: str, platform: str, timezone: str = "Europe/Moscow"
) -> CarryOver | None:
    """The school's offline-journal entries not yet on ``platform``; ``None`` when there are
    none (never imported, or all carried over). Days are the school's (``timezone``)."""
    entries = store.change_log(school, reason_prefix=OFFLINE_REASON)
    if not entries:
        return None
    by_entity: dict[str, set[str]] = {}
    for e in entries:
        by_entity.setdefault(e.entity, set()).add(e.record_id)
    pending = 0
    for entity, ids in by_entity.items():
        local = {r.id: r.content_hash for r in store.local_records(school, entity) if r.id in ids}
        remote = {
            r.id: r.content_hash
            for r in store.remote_records(school, platform, entity)
            if r.id in local
        }
        pending += sum(1 for rid, h in local.items() if remote.get(rid) != h)
    if not pending:
        return None
    imported_at = min(e.at for e in entries)
    resumed = [
        r.created_at
        for r in store.runs(school=school, limit=500)
        if r.platform == platform
        and r.state is RunState.DONE
        and _utc(r.created_at) >= _utc(imported_at)
    ]
    resumed_at = _utc(min(resumed, key=_utc)).astimezone(ZoneInfo(timezone)) if resumed else None
    deadline = working_days_after(resumed_at.date(), 2) if resumed_at else None
    return CarryOver(school, platform, pending, imported_at, resumed_at, deadline)


def _utc(at: datetime) -> datetime:
    """Store times are UTC (SQLite may give them back without a zone)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
