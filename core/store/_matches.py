"""Identity matches between two bindings of one school (issue 15): saved per (school, source
platform, target platform), operator decisions with who made them, so later runs reuse them."""

from __future__ import annotations

from sqlalchemy import delete, select

from core.migrate import MATCH_ENTITIES, Match, MatchSet
from core.store._base import StoreBase, chunked, utcnow
from core.store._schema import identity_matches

__all__ = ["MatchStore"]

_m = identity_matches.c


class MatchStore(StoreBase):
    def save_matches(
        self,
        school: str,
        source_platform: str,
        target_platform: str,
        matchset: MatchSet,
        *,
        actor: str,
    ) -> int:
        """Replace the pair's saved matches with ``matchset`` (in one transaction).

        A match an operator decided keeps its ``decided_by``/``decided_at``; one decided now
        without a name gets ``actor`` and the current time. Returns the rows written."""
        now = utcnow()
        rows = []
        for m in matchset.matches:
            decided = bool(m.decided_by) or m.rule == "operator"
            rows.append(
                {
                    "school": school,
                    "source_platform": source_platform,
                    "target_platform": target_platform,
                    "entity": m.entity,
                    "source_id": m.source_id,
                    "target_id": m.target_id,
                    "rule": m.rule,
                    "confidence": float(m.confidence),
                    "state": m.state,
                    "candidates": list(m.candidates),
                    "decided_by": (m.decided_by or actor) if decided else "",
                    "decided_at": (m.decided_at or now) if decided else None,
                }
            )
        with self._write() as conn:
            conn.execute(
                delete(identity_matches).where(
                    _m.school == school,
                    _m.source_platform == source_platform,
                    _m.target_platform == target_platform,
                )
            )
            for chunk in chunked(rows, 500):
                conn.execute(identity_matches.insert(), chunk)
        return len(rows)

    def load_matches(
        self, school: str, source_platform: str, target_platform: str
    ) -> MatchSet | None:
        """The pair's saved matches, or ``None`` when none were saved."""
        q = (
            select(identity_matches)
            .where(
                _m.school == school,
                _m.source_platform == source_platform,
                _m.target_platform == target_platform,
            )
            .order_by(_m.entity, _m.source_id)
        )
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        if not rows:
            return None
        order = {e: n for n, e in enumerate(MATCH_ENTITIES)}
        rows = sorted(rows, key=lambda r: (order.get(r["entity"], len(order)), r["source_id"]))
        return MatchSet(
            tuple(
                Match(
                    entity=r["entity"],
                    source_id=r["source_id"],
                    target_id=r["target_id"],
                    rule=r["rule"],
                    confidence=r["confidence"],
                    state=r["state"],
                    candidates=tuple(r["candidates"] or ()),
                    decided_by=r["decided_by"],
                    decided_at=r["decided_at"],
                )
                for r in rows
            )
        )
