"""Runs and their state machine (DESIGN.md §4), every transition recorded.

A run's id is derived from its run key, and the key is unique: the scheduler's deterministic key
per (school, platform, operation, slot) means a duplicate start finds the run already there
instead of starting a second one. Transitions are checked against the state read inside the
writing transaction (row-locked on PostgreSQL), so two workers cannot both move the same run.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, func, select

from core.store._base import StoreBase, utcnow
from core.store._schema import run_transitions, runs
from core.store._types import ALLOWED, FINAL, Run, RunState, Transition

__all__ = ["RunStore", "run_id_for"]

_NS = uuid.UUID("0b6f3a0e-5d1c-5a7e-8d9e-72756e732d31")
_u = runs.c
_t = run_transitions.c


def run_id_for(run_key: str) -> str:
    return str(uuid.uuid5(_NS, run_key))


def check_transition(current: RunState, to: RunState, *, resume: bool) -> None:
    """Raise ``ValueError`` unless ``current → to`` is a legal move."""
    if current in FINAL:
        if resume and to is RunState.PULLING:
            return
        hint = " (pass resume=True to re-run it from pulling)" if to is RunState.PULLING else ""
        raise ValueError(f"run is {current.value}: cannot move to {to.value}{hint}")
    if to is RunState.FAILED or to in ALLOWED[current]:
        return
    raise ValueError(f"illegal run transition {current.value} → {to.value}")


class RunStore(StoreBase):
    def start_run(self, run_key: str, school: str, platform: str, operation: str) -> Run:
        """Create the run in state ``planned``, or return the existing run with this key."""
        now = utcnow()
        rid = run_id_for(run_key)
        with self._write() as conn:
            ins = self._upsert(runs).values(
                id=rid,
                run_key=run_key,
                school=school,
                platform=platform,
                operation=operation,
                state=RunState.PLANNED.value,
                created_at=now,
                updated_at=now,
                counts={},
                error=None,
            )
            stmt = ins.on_conflict_do_nothing().returning(_u.id)
            created = conn.execute(stmt).first() is not None
            if created:
                self._log(conn, rid, None, RunState.PLANNED, now, "")
            row = conn.execute(select(runs).where(_u.run_key == run_key)).one()
        return _run(row._mapping, created=created)

    def transition(
        self,
        run_id: str,
        to: RunState,
        *,
        note: str = "",
        counts: dict[str, Any] | None = None,
        error: str | None = None,
        resume: bool = False,
    ) -> Run:
        """Move a run; ``counts`` are merged into the run's counts. Illegal moves raise."""
        to = RunState(to)
        now = utcnow()
        with self._write() as conn:
            row = conn.execute(select(runs).where(_u.id == run_id).with_for_update()).first()
            if row is None:
                raise KeyError(run_id)
            current = RunState(row.state)
            check_transition(current, to, resume=resume)
            merged = {**row.counts, **(counts or {})}
            resumed = current in FINAL
            new_error = error if error is not None else (None if resumed else row.error)
            conn.execute(
                runs.update()
                .where(_u.id == run_id)
                .values(state=to.value, updated_at=now, counts=merged, error=new_error)
            )
            self._log(conn, run_id, current, to, now, note)
            fresh = conn.execute(select(runs).where(_u.id == run_id)).one()
        return _run(fresh._mapping, created=False)

    @staticmethod
    def _log(
        conn: Connection,
        run_id: str,
        before: RunState | None,
        to: RunState,
        at: Any,
        note: str,
    ) -> None:
        seq = conn.execute(
            select(func.coalesce(func.max(_t.seq), 0)).where(_t.run_id == run_id)
        ).scalar_one()
        conn.execute(
            run_transitions.insert().values(
                run_id=run_id,
                seq=int(seq) + 1,
                from_state=before.value if before is not None else None,
                to_state=to.value,
                at=at,
                note=note,
            )
        )

    def get_run(self, run_id: str) -> Run:
        """The run with this id; raises ``KeyError`` if there is none."""
        with self._read() as conn:
            row = conn.execute(select(runs).where(_u.id == run_id)).first()
        if row is None:
            raise KeyError(run_id)
        return _run(row._mapping, created=False)

    def runs(self, school: str | None = None, limit: int = 50) -> list[Run]:
        """The newest runs first."""
        stmt = select(runs)
        if school is not None:
            stmt = stmt.where(_u.school == school)
        stmt = stmt.order_by(_u.created_at.desc(), _u.id).limit(limit)
        with self._read() as conn:
            return [_run(row._mapping, created=False) for row in conn.execute(stmt)]

    def transitions(self, run_id: str) -> list[Transition]:
        with self._read() as conn:
            rows = conn.execute(select(run_transitions).where(_t.run_id == run_id).order_by(_t.seq))
            return [
                Transition(
                    run_id=row.run_id,
                    seq=row.seq,
                    from_state=RunState(row.from_state) if row.from_state is not None else None,
                    to_state=RunState(row.to_state),
                    at=row.at,
                    note=row.note,
                )
                for row in rows
            ]


def _run(row: Any, *, created: bool) -> Run:
    return Run(
        id=row["id"],
        run_key=row["run_key"],
        school=row["school"],
        platform=row["platform"],
        operation=row["operation"],
        state=RunState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        counts=dict(row["counts"]),
        error=row["error"],
        created=created,
    )
