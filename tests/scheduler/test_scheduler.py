"""The embedded runner on real emulators over loopback: cycles, keys, windows, holds, status."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.codes import MarkValue
from core.errors import ConfigError
from core.model import Mark
from core.store import RunState, Store
from journalsync.cli import app
from journalsync.config import parse_config
from scheduler import (
    EmbeddedScheduler,
    Plan,
    Runner,
    SchedulerLock,
    approve_run,
    discard_run,
    school_status,
)
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)  # a Monday, 19:30 in Barnaul: after school
THRESHOLDS = "[thresholds]\nmark = { updates = 2 }\n"


@pytest.fixture
def muni(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxMunicipality]:
    db = tmp_path / "m.db"
    with sandbox_municipality(
        4,
        store_url=f"sqlite:///{db}",
        failing=1,
        platforms=["netschool"],
        schools_per_host=4,
        extra=THRESHOLDS,
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        m.write(tmp_path / "m.toml")
        yield m


def _plan(m: SandboxMunicipality, extra: str = "") -> Plan:
    text = m.config_text.replace(THRESHOLDS, THRESHOLDS + extra)
    return parse_config(text, "m.toml", platforms=["netschool"])


def _cycle(plan: Plan, store: Store, op: str = "push", slot: datetime = SLOT, **kw):
    return asyncio.run(Runner(plan, store).run_cycle(op, slot, **kw))


def test_cycle_one_failing_school_never_stops_the_others(muni: SandboxMunicipality) -> None:
    plan = _plan(muni)
    store = Store.open(plan.store_url)
    out = {o.school: o for o in _cycle(plan, store)}
    (bad,) = muni.failing
    assert out[bad].state == "failed"
    assert "answered 503" in out[bad].reason and out[bad].retriable
    assert {o.state for s, o in out.items() if s != bad} == {"done"}
    assert all(o.counts["records"] > 0 for s, o in out.items() if s != bad)
    runs = {r.school: r for r in store.runs()}
    assert runs[bad].state is RunState.FAILED and "503" in (runs[bad].error or "")
    # A restart (a new runner) firing the same slot runs nothing twice.
    again = _cycle(plan, store)
    assert {o.state for o in again} == {"skipped"}
    assert all("slot already ran" in o.reason for o in again)
    assert len(store.runs()) == 4


def test_blackout_and_school_hours_skip_with_a_reason(muni: SandboxMunicipality) -> None:
    blackout = (
        '\n[[blackouts]]\nname = "year-end rollover"\nstart = 2026-09-14T00:00:00\n'
        'end = 2026-09-15T00:00:00\nreason = "rollover"\noperations = ["push"]\n'
    )
    plan = _plan(muni, blackout)
    store = Store.open(plan.store_url)
    out = _cycle(plan, store)
    assert {o.state for o in out} == {"skipped"}
    assert all(o.reason == "blackout window 'year-end rollover': rollover" for o in out)
    assert store.runs() == []
    # The pull schedule is for school hours only: 19:30 local is outside them.
    pulls = _cycle(plan, store, "pull")
    assert {o.reason for o in pulls} == {
        "outside school hours (this schedule runs in school hours only)"
    }
    # Asked for by hand (not scheduled), the window does not apply, the blackout does.
    assert {o.state for o in _cycle(plan, store, "pull", scheduled=False)} == {"done", "failed"}


def _edit_local_marks(store: Store, school: str, n: int) -> list[Mark]:
    marks = [r for r in store.remote_records(school, "netschool", "mark") if isinstance(r, Mark)]
    changed = [
        m.model_copy(
            update={"value": MarkValue.TWO if m.value != MarkValue.TWO else MarkValue.THREE}
        )
        for m in marks[:n]
    ]
    store.upsert_local(school, changed, actor="test")
    return changed


def test_threshold_breach_holds_and_approval_applies_once(muni: SandboxMunicipality) -> None:
    plan = _plan(muni)
    store = Store.open(plan.store_url)
    _cycle(plan, store)
    school = next(s for s in muni.schools if s not in muni.failing)
    changed = _edit_local_marks(store, school, 3)
    later = SLOT.replace(day=15)
    (out,) = _cycle(plan, store, slot=later, schools=[plan.school(school)])
    assert out.state == "held"
    assert out.reason == "mark: 3 updates exceed 2"
    world, _ = muni.world_of(school)
    before = world.version
    # While held, the school's next slots wait; the status shows the hold.
    (skipped,) = _cycle(plan, store, slot=SLOT.replace(day=16), schools=[plan.school(school)])
    assert skipped.state == "skipped" and "held for approval" in skipped.reason
    (st,) = school_status(plan, store, schools=[school])
    assert st.state == "held" and st.holds[0][1] == "mark: 3 updates exceed 2"
    held_id = st.holds[0][0]

    report = asyncio.run(approve_run(plan, store, held_id[:8], actor="tester"))
    assert report.run.state is RunState.DONE
    assert report.run.counts["pushed"] == 3 and report.run.counts["verified"] == 3
    assert world.version > before
    pushing = [t for t in store.transitions(held_id) if t.to_state is RunState.PUSHING]
    assert len(pushing) == 1 and pushing[0].note == "approved by tester"
    with pytest.raises(ConfigError, match="only a held run can be approved"):
        asyncio.run(approve_run(plan, store, held_id, actor="tester"))
    remote = {r.id: r for r in store.remote_records(school, "netschool", "mark")}
    assert all(remote[m.id].value == m.value for m in changed)
    statuses = {i.status for i in store.outbox(school, "netschool")}
    assert statuses == {"verified"}


def test_discard_closes_the_hold_without_pushing(muni: SandboxMunicipality) -> None:
    plan = _plan(muni)
    store = Store.open(plan.store_url)
    _cycle(plan, store)
    school = next(s for s in muni.schools if s not in muni.failing)
    _edit_local_marks(store, school, 4)
    (out,) = _cycle(plan, store, slot=SLOT.replace(day=15), schools=[plan.school(school)])
    assert out.state == "held"
    world, _ = muni.world_of(school)
    before = world.version
    run = discard_run(store, out.run_key, actor="tester")
    assert run.state is RunState.DONE and run.counts["discarded"] == 4
    assert world.version == before
    assert {i.status for i in store.outbox(school, "netschool")} == {"failed"}
    # The same changes are not queued again: the next slot is not held.
    (nxt,) = _cycle(plan, store, slot=SLOT.replace(day=16), schools=[plan.school(school)])
    assert nxt.state == "done"


def test_one_scheduler_per_store(muni: SandboxMunicipality, tmp_path: Path) -> None:
    plan = _plan(muni)
    with SchedulerLock(plan.store_url):
        with pytest.raises(ConfigError, match="another journalsync scheduler already runs"):
            SchedulerLock(plan.store_url).acquire()
        result = CliRunner().invoke(
            app, ["serve", "--config", str(tmp_path / "m.toml"), "--once", "push"]
        )
        assert result.exit_code == 2
        assert "another journalsync scheduler" in result.output.replace("\n", "")
    with SchedulerLock(plan.store_url):  # released: the next one gets it
        pass


def test_embedded_jobs_fire_slots_and_resume_interrupted_runs(muni: SandboxMunicipality) -> None:
    plan = _plan(muni)
    store = Store.open(plan.store_url)
    sched = EmbeddedScheduler(plan, store)
    jobs = sched.build().get_jobs()
    assert len(jobs) == 4 * 3  # pull, push, reconcile per school
    assert all(j.coalesce and j.max_instances == 1 for j in jobs)
    school = next(s for s in muni.schools if s not in muni.failing)
    # A job firing late belongs to the slot it was due for: the same key, run once.
    first = asyncio.run(sched.fire(school, "push", now=SLOT.replace(minute=41)))
    second = asyncio.run(sched.fire(school, "push", now=SLOT.replace(minute=55)))
    assert first.state == "done" and first.run_key.endswith(":push:20260914T1230Z")
    assert second.state == "skipped" and second.run_key == first.run_key
    # A run a killed process left half-way is resumed at the next start, under its key.
    other = next(s for s in muni.schools if s not in muni.failing and s != school)
    key = f"{other}:netschool:push:20260914T1230Z"
    run = store.start_run(key, other, "netschool", "push")
    store.transition(run.id, RunState.PULLING)
    (resumed,) = asyncio.run(sched.resume_interrupted())
    assert resumed.run_key == key and resumed.state == "done"


def test_serve_stops_gracefully_and_releases_the_lock(muni: SandboxMunicipality) -> None:
    plan = _plan(muni)
    store = Store.open(plan.store_url)

    async def main() -> None:
        stop = asyncio.Event()
        sched = EmbeddedScheduler(plan, store, grace_seconds=5)
        task = asyncio.create_task(sched.serve(stop))
        while sched.scheduler is None or not sched.scheduler.running:
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    with SchedulerLock(plan.store_url):
        pass


def test_status_and_runs_commands(muni: SandboxMunicipality, tmp_path: Path) -> None:
    cfg = str(tmp_path / "m.toml")
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--config", cfg, "--once", "push"])
    assert result.exit_code == 1  # one school failed
    assert "4 schools in" in result.stdout and ": 3 done, 1 failed" in result.stdout
    status = runner.invoke(app, ["status", "--config", cfg, "--json"])
    assert status.exit_code == 0
    import json

    rows = {r["school"]: r for r in json.loads(status.stdout)}
    (bad,) = muni.failing
    assert rows[bad]["state"] == "failed" and "503" in rows[bad]["error"]
    good = [r for s, r in rows.items() if s != bad]
    assert all(r["state"] == "done" and r["pulled"] > 0 and r["next_slot"] for r in good)
    listed = runner.invoke(app, ["runs", "list", "--config", cfg, "--held"])
    assert listed.exit_code == 0
    missing = runner.invoke(app, ["runs", "discard", "nosuchrun", "--config", cfg])
    assert missing.exit_code == 2
