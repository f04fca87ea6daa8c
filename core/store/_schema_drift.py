"""The platforms' schema drift as the store keeps it: one row per (platform, school, payload
model, field, kind), counted and dated across pulls and ``journalsync doctor`` runs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.schema_drift import DriftEvent, DriftKind
from core.store._base import StoreBase
from core.store._schema import schema_drift

__all__ = ["SchemaDriftRow", "SchemaDriftStore"]

_d = schema_drift.c


@dataclass(frozen=True, slots=True)
class SchemaDriftRow:
    platform: str
    school: str
    model: str
    field: str
    kind: DriftKind
    count: int
    first_seen: datetime
    last_seen: datetime


class SchemaDriftStore(StoreBase):
    def record_schema_drift(self, school: str, events: Iterable[DriftEvent]) -> int:
        """Add ``events`` (a connector's, see :meth:`core.connector.Connector.schema_drift`)
        to the school's history: a new field gets a row, a known one its count added and its
        ``last_seen`` moved on. Returns the number of events saved."""
        rows = [
            {
                "platform": e.platform,
                "school": school,
                "model": e.model[:128],
                "field": e.field[:255],
                "kind": e.kind.value,
                "count": e.count,
                "first_seen": e.first_seen,
                "last_seen": e.last_seen,
            }
            for e in events
        ]
        if not rows:
            return 0
        ins = self._upsert(schema_drift)
        stmt = ins.on_conflict_do_update(
            index_elements=[_d.platform, _d.school, _d.model, _d.field, _d.kind],
            set_={
                "count": _d.count + ins.excluded.count,
                # Events may be saved out of order (two pulls ending together): keep the latest.
                "last_seen": func.max(_d.last_seen, ins.excluded.last_seen)
                if self.dialect == "sqlite"
                else func.greatest(_d.last_seen, ins.excluded.last_seen),
            },
        )
        with self._write() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def schema_drift(
        self, platform: str | None = None, school: str | None = None
    ) -> list[SchemaDriftRow]:
        """The recorded drift, newest first (optionally of one platform and/or school)."""
        stmt = select(schema_drift)
        if platform is not None:
            stmt = stmt.where(_d.platform == platform)
        if school is not None:
            stmt = stmt.where(_d.school == school)
        stmt = stmt.order_by(
            _d.last_seen.desc(), _d.platform, _d.school, _d.model, _d.field, _d.kind
        )
        with self._read() as conn:
            return [
                SchemaDriftRow(**{**m, "kind": DriftKind(m["kind"]), "count": int(m["count"])})
                for m in (row._mapping for row in conn.execute(stmt))
            ]
