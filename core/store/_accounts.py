"""Family accounts: each account's last outcome, and the pupils the school's accounts showed.

A school read through family accounts (one family per account) is only as complete as its
accounts: :meth:`AccountStore.record_accounts` keeps, per pull, what each account did (never a
secret) and which pupils it showed; a pupil once shown stays on the school's roster, so a pull
that no longer reads it (an account removed, rejected, expired) is seen to miss it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from core.connector import AccountOutcome
from core.store._base import StoreBase, utcnow
from core.store._schema import account_outcomes, family_roster

__all__ = ["AccountRow", "AccountStore", "RosterPupil"]

_a = account_outcomes.c
_r = family_roster.c


@dataclass(frozen=True, slots=True)
class AccountRow:
    school: str
    platform: str
    login: str
    state: str
    pupils: int
    detail: str
    first_used: datetime
    last_used: datetime
    last_ok: datetime | None


@dataclass(frozen=True, slots=True)
class RosterPupil:
    pupil_id: str
    name: str
    class_name: str
    first_read: datetime
    last_read: datetime
    last_run: str


class AccountStore(StoreBase):
    def record_accounts(
        self, school: str, platform: str, outcomes: Iterable[AccountOutcome], run_id: str
    ) -> None:
        """One pull's account outcomes, and the pupils they showed read by ``run_id``."""
        now = utcnow()
        outcomes = list(outcomes)
        if not outcomes:
            return
        with self._write() as conn:
            for o in outcomes:
                ok = o.state == "ok"
                ins = self._upsert(account_outcomes).values(
                    school=school,
                    platform=platform,
                    login=o.login,
                    state=o.state,
                    pupils=len(o.pupils),
                    detail=o.detail,
                    first_used=now,
                    last_used=now,
                    last_ok=now if ok else None,
                )
                update = {
                    "state": ins.excluded.state,
                    "detail": ins.excluded.detail,
                    "last_used": ins.excluded.last_used,
                }
                if ok:  # a failed account keeps the count and time of its last success
                    update |= {"pupils": ins.excluded.pupils, "last_ok": ins.excluded.last_ok}
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=[_a.school, _a.platform, _a.login], set_=update
                    )
                )
            seen = {p.id: p for o in outcomes if o.state == "ok" for p in o.pupils}
            for p in seen.values():
                ins = self._upsert(family_roster).values(
                    school=school,
                    platform=platform,
                    pupil_id=p.id,
                    name=p.name,
                    class_name=p.class_name,
                    first_read=now,
                    last_read=now,
                    last_run=run_id,
                )
                conn.execute(
                    ins.on_conflict_do_update(
                        index_elements=[_r.school, _r.platform, _r.pupil_id],
                        set_={
                            "name": ins.excluded.name,
                            "class_name": ins.excluded.class_name,
                            "last_read": ins.excluded.last_read,
                            "last_run": ins.excluded.last_run,
                        },
                    )
                )

    def accounts(self, school: str, platform: str | None = None) -> list[AccountRow]:
        """The school's accounts with an outcome, by login."""
        q = select(account_outcomes).where(_a.school == school)
        if platform is not None:
            q = q.where(_a.platform == platform)
        with self._read() as conn:
            rows = conn.execute(q.order_by(_a.login)).mappings().all()
        return [AccountRow(**dict(r)) for r in rows]

    def family_roster(self, school: str, platform: str) -> list[RosterPupil]:
        """Every pupil the school's accounts have shown, by class and name."""
        q = select(
            _r.pupil_id, _r.name, _r.class_name, _r.first_read, _r.last_read, _r.last_run
        ).where(_r.school == school, _r.platform == platform)
        with self._read() as conn:
            rows = conn.execute(q).mappings().all()
        out = [RosterPupil(**dict(r)) for r in rows]
        out.sort(key=lambda p: (p.class_name, p.name, p.pupil_id))
        return out

    def forget_pupils(self, school: str, platform: str, pupil_ids: Iterable[str]) -> int:
        """Drop pupils from the roster (they left the school): no pull is missing them now."""
        ids = list(pupil_ids)
        if not ids:
            return 0
        with self._write() as conn:
            result = conn.execute(
                delete(family_roster).where(
                    _r.school == school, _r.platform == platform, _r.pupil_id.in_(ids)
                )
            )
        return int(result.rowcount or 0)
