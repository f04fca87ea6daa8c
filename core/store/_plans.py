"""Migration plans (issue 15): saved when planned, approved by a person, moved along by apply
and verify. The plan itself is JSON (``core.migrate``); the store keeps it whole, with its
counts beside it for listings, and the last certificate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select

from core.errors import ConfigError
from core.store._base import StoreBase, utcnow
from core.store._schema import migration_plans

__all__ = ["PLAN_STATES", "PlanRow", "PlanStore"]

_p = migration_plans.c

#: planned → approved → applying → applied (api) | awaiting_entry (hand entry) → verified.
PLAN_STATES = frozenset(
    {"planned", "approved", "applying", "applied", "awaiting_entry", "verified"}
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: str
    school: str
    source_binding: str
    source_platform: str
    target_binding: str
    target_platform: str
    state: str
    counts: dict[str, Any]
    data: dict[str, Any]
    certificate: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    approved_by: str | None


class PlanStore(StoreBase):
    def save_plan(
        self,
        plan_id: str,
        *,
        school: str,
        source: tuple[str, str],
        target: tuple[str, str],
        counts: Mapping[str, Any],
        data: Mapping[str, Any],
    ) -> None:
        """Save a new plan as ``planned`` (source and target are (binding, platform))."""
        now = utcnow()
        with self._write() as conn:
            conn.execute(
                migration_plans.insert().values(
                    id=plan_id,
                    school=school,
                    source_binding=source[0],
                    source_platform=source[1],
                    target_binding=target[0],
                    target_platform=target[1],
                    state="planned",
                    counts=orjson.dumps(dict(counts)).decode(),
                    data=orjson.dumps(dict(data)).decode(),
                    created_at=now,
                    updated_at=now,
                )
            )

    def plan(self, plan_id: str) -> PlanRow:
        """The plan, or :class:`ConfigError` naming the id (a mistyped id is bad usage)."""
        with self._read() as conn:
            row = conn.execute(select(migration_plans).where(_p.id == plan_id)).first()
        if row is None:
            raise ConfigError(
                f"no migration plan {plan_id!r} in this store",
                hint="`journalsync migrate list` shows the plans; check --db",
            )
        return _row(row._mapping)

    def plans(self, school: str | None = None) -> list[PlanRow]:
        stmt = select(migration_plans).order_by(_p.created_at)
        if school is not None:
            stmt = stmt.where(_p.school == school)
        with self._read() as conn:
            return [_row(r._mapping) for r in conn.execute(stmt)]

    def set_plan_state(
        self,
        plan_id: str,
        state: str,
        *,
        approved_by: str | None = None,
        certificate: Mapping[str, Any] | None = None,
    ) -> None:
        if state not in PLAN_STATES:
            raise ValueError(f"unknown plan state {state!r}")
        now = utcnow()
        values: dict[str, Any] = {"state": state, "updated_at": now}
        if approved_by is not None:
            values |= {"approved_at": now, "approved_by": approved_by}
        if certificate is not None:
            values["certificate"] = orjson.dumps(dict(certificate)).decode()
        with self._write() as conn:
            conn.execute(migration_plans.update().where(_p.id == plan_id).values(**values))


def _row(m: Any) -> PlanRow:
    return PlanRow(
        id=m["id"],
        school=m["school"],
        source_binding=m["source_binding"],
        source_platform=m["source_platform"],
        target_binding=m["target_binding"],
        target_platform=m["target_platform"],
        state=m["state"],
        counts=orjson.loads(m["counts"]),
        data=orjson.loads(m["data"]),
        certificate=orjson.loads(m["certificate"]) if m["certificate"] else None,
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        approved_at=m["approved_at"],
        approved_by=m["approved_by"],
    )
