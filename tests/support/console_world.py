"""A municipality for the console's tests: one school on each of the five platforms (real
emulators on loopback), synced once; then a held NetSchool push (3 mark changes over a limit
of 2) and open drift findings at the КИАСУО school (3 marks changed in its local journal,
reconciled, not pushed). Tokens for each role, the console served over a real socket."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import select

from connectors.sandbox.server import serve_in_thread
from console import create_app, create_token
from core.codes import MarkValue
from core.model import Mark
from core.store import Store, local_records, remote_records
from core.sync import reconcile
from journalsync.config import parse_config
from scheduler import Plan, Runner
from scheduler.sandbox import sandbox_municipality

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)
THRESHOLDS = "[thresholds]\nmark = { updates = 2 }\n"


@dataclass
class ConsoleWorld:
    plan: Plan
    store: Store
    base_url: str
    config: Path
    env: dict[str, str]
    tokens: dict[str, str]  # role → token ("school" sees DRIFT_SCHOOL only)
    drift_school: str
    held_school: str
    held_run: str

    def pupils(self) -> set[str]:
        """Every pupil's last name, first name and full «Фамилия И. О.» in the store."""
        names: set[str] = set()
        with self.store.engine.connect() as conn:
            for table in (remote_records, local_records):
                rows = conn.execute(select(table.c.data).where(table.c.entity == "person"))
                for (raw,) in rows:
                    p = orjson.loads(raw)
                    if "student" not in p.get("roles", ()):
                        continue
                    for key in ("last_name", "first_name"):
                        if len(str(p.get(key) or "")) >= 3:
                            names.add(str(p[key]))
        return names


def _edit_marks(store: Store, school: str, platform: str, n: int) -> None:
    marks = [r for r in store.remote_records(school, platform, "mark") if isinstance(r, Mark)]
    changed = [
        m.model_copy(
            update={"value": MarkValue.TWO if m.value != MarkValue.TWO else MarkValue.THREE}
        )
        for m in marks[:n]
    ]
    assert len(changed) == n
    store.upsert_local(school, changed, actor="test")


@contextmanager
def console_world(tmp: Path) -> Iterator[ConsoleWorld]:
    url = f"sqlite:///{tmp / 'muni.db'}"
    with sandbox_municipality(5, store_url=url, extra=THRESHOLDS) as m:
        saved = {k: os.environ.get(k) for k in m.env}
        os.environ.update(m.env)
        try:
            config = m.write(tmp / "muni.toml")
            plan = parse_config(m.config_text, str(config))
            store = Store.open(url)
            runner = Runner(plan, store)
            first = asyncio.run(runner.run_cycle("push", SLOT, scheduled=False))
            assert {o.state for o in first} == {"done"}, [o.as_dict() for o in first]
            held_school = next(s.slug for s in plan.schools if s.platform == "netschool")
            drift_school = next(s.slug for s in plan.schools if s.platform == "kiasuo")
            _edit_marks(store, held_school, "netschool", 3)
            (held,) = asyncio.run(
                runner.run_cycle(
                    "push", SLOT.replace(day=15), [plan.school(held_school)], scheduled=False
                )
            )
            assert held.state == "held", held.as_dict()
            _edit_marks(store, drift_school, "kiasuo", 3)
            reconcile(store, drift_school, "kiasuo")
            assert len(store.findings(drift_school, "kiasuo", status="open")) >= 3
            tokens = {
                "admin": create_token(store, role="admin", name="Администратор УО")[0],
                "school": create_token(store, role="school", name="Завуч", schools=[drift_school])[
                    0
                ],
                "auditor": create_token(store, role="auditor", name="Аудитор")[0],
            }
            from core.store import run_id_for

            with serve_in_thread(create_app(plan, store)) as server:
                yield ConsoleWorld(
                    plan=plan,
                    store=store,
                    base_url=server.base_url,
                    config=config,
                    env=dict(m.env),
                    tokens=tokens,
                    drift_school=drift_school,
                    held_school=held_school,
                    held_run=run_id_for(held.run_key),
                )
            store.close()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
