"""A school bound to two platforms: every binding is pulled, scheduled pushes go only to the
binding in effect on the school's date, and a skipped push names school, binding and reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from core.connector import Connector
from core.errors import UnsupportedOperation
from core.store import Store
from scheduler import EmbeddedScheduler, Plan, Runner, Schedule, SchoolPlan

# 19:30 local (Asia/Barnaul, UTC+7) on Monday 12 January 2026, the day the move takes effect.
SLOT_MOVE_DAY = datetime(2026, 1, 12, 12, 30, tzinfo=UTC)
SLOT_BEFORE = datetime(2026, 1, 9, 12, 30, tzinfo=UTC)


def _binding(platform: str, name: str, effective: date | None) -> SchoolPlan:
    return SchoolPlan(
        slug="s-1",
        name="School 1",
        platform=platform,
        base_url=f"http://{platform}.invalid",
        platform_school="S1",
        login="admin",
        password=None,
        timezone="Asia/Barnaul",
        schedules=(Schedule("push", "30 19 * * *"), Schedule("pull", "30 19 * * *")),
        binding=name,
        effective=effective,
    )


def _plan(tmp_path: Path) -> Plan:
    return Plan(
        municipality="M",
        timezone="Asia/Barnaul",
        store_url=f"sqlite:///{tmp_path / 'm.db'}",
        schools=(_binding("netschool", "sgo", None), _binding("perm", "epos", date(2026, 1, 12))),
    )


def _no_connector(plan: Plan, school: SchoolPlan, store: Store) -> Connector:
    # Reaching the platform at all means the slot was not skipped.
    raise UnsupportedOperation(f"would talk to {school.platform}")


def _runs(plan: Plan, op: str, slot: datetime) -> dict[str, tuple[str, str]]:
    store = Store.open(plan.store_url)
    try:
        runner = Runner(plan, store, connectors=_no_connector)
        out = asyncio.run(runner.run_cycle(op, slot))
    finally:
        store.close()
    return {o.platform: (o.state, o.reason) for o in out}


def test_binding_default_name_is_the_platform() -> None:
    plain = SchoolPlan("s", "S", "avers", "http://x", "", "l", None, "Europe/Moscow")
    assert plain.binding == "avers" and plain.effective is None


def test_scheduled_push_goes_only_to_the_binding_in_effect(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert len(plan.schools) == 2  # the scheduler runs every binding
    before = _runs(plan, "push", SLOT_BEFORE)
    assert before["netschool"][0] == "failed"  # tried: in effect
    state, reason = before["perm"]
    assert state == "skipped"
    assert reason == (
        "school s-1: binding 'epos' is not in effect on 09.01.2026 (pushes go to binding 'sgo')"
    )
    after = _runs(plan, "push", SLOT_MOVE_DAY)
    assert after["perm"][0] == "failed" and "would talk to perm" in after["perm"][1]
    assert after["netschool"] == (
        "skipped",
        "school s-1: binding 'sgo' is not in effect on 12.01.2026 (pushes go to binding 'epos')",
    )


def test_pulls_run_for_every_binding(tmp_path: Path) -> None:
    out = _runs(_plan(tmp_path), "pull", SLOT_BEFORE)
    assert {p: s for p, (s, _r) in out.items()} == {"netschool": "failed", "perm": "failed"}


def test_manual_push_to_a_binding_not_in_effect_is_allowed(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    store = Store.open(plan.store_url)
    try:
        runner = Runner(plan, store, connectors=_no_connector)
        out = asyncio.run(
            runner.run_school(plan.binding("s-1", "epos"), "push", SLOT_BEFORE, scheduled=False)
        )
    finally:
        store.close()
    assert out.state == "failed"


def test_embedded_jobs_are_per_binding(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    store = Store.open(plan.store_url)
    try:
        sched = EmbeddedScheduler(plan, store, Runner(plan, store, connectors=_no_connector))
        ids = sorted(j.id for j in sched.build().get_jobs())
        assert ids == ["s-1:epos:pull", "s-1:epos:push", "s-1:sgo:pull", "s-1:sgo:push"]
        out = asyncio.run(sched.fire("s-1", "push", SLOT_BEFORE, binding="epos"))
        assert out.state == "skipped" and "binding 'epos' is not in effect" in out.reason
    finally:
        store.close()
