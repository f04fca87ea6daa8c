"""What the store knows per school and platform, for ``journalsync status``: which pairs it
has seen at all (a pull from the command line records no run, only cursors), and their open
quarantine."""

from __future__ import annotations

from sqlalchemy import func, select, union

from core.store._base import StoreBase
from core.store._schema import cursors, quarantine, runs, schema_drift

__all__ = ["OverviewStore"]


class OverviewStore(StoreBase):
    def school_platforms(self, school: str | None = None) -> list[tuple[str, str]]:
        """Every (school, platform) the store holds anything of: a run, a pull's cursors
        (every committed page writes one), quarantine or schema drift; sorted. With
        ``school``, that school's only (through the tables' school indexes)."""
        pairs = union(
            *(
                (
                    select(t.c.school, t.c.platform).distinct()
                    if school is None
                    else select(t.c.school, t.c.platform).where(t.c.school == school).distinct()
                )
                for t in (runs, cursors, quarantine, schema_drift)
            )
        )
        with self._read() as conn:
            return sorted((s, p) for s, p in conn.execute(pairs))

    def quarantine_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """Open quarantined records per (school, platform), per entity."""
        q = quarantine.c
        stmt = (
            select(q.school, q.platform, q.entity, func.count())
            .where(q.status == "open")
            .group_by(q.school, q.platform, q.entity)
        )
        out: dict[tuple[str, str], dict[str, int]] = {}
        with self._read() as conn:
            for school, platform, entity, n in conn.execute(stmt):
                out.setdefault((school, platform), {})[entity] = int(n)
        return out
