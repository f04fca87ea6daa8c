"""The same sandbox world pulled through every registered connector gives the same findings,
except for rules a platform cannot support — and then the result says which and why."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from connectors.conformance.harness import SMALL, Harness, harnesses
from connectors.sandbox import World
from core.codes import AttendanceCode, MarkValue
from core.compliance import (
    ComplianceResult,
    check_frame,
    frame_from_records,
    frame_from_store,
    get_profile,
)
from core.connector import PullMode
from core.store import Store
from core.sync import pull

BASE_URL = "http://emulator.test"
SEED = 11


def _world() -> World:
    """The conformance world, with two grade-1 lessons given marks (breaking one rule twice)."""
    world = World.generate(SEED, SMALL)
    school = next(iter(world.schools))
    first = [g for g in world.groups.values() if world.classes[g.class_id].grade == 1]
    lessons = sorted(first[0].lesson_ids)[:2]
    for lid in lessons:
        kid = first[0].member_ids[0]
        world.set_mark(lid, kid, "answer", MarkValue.FIVE)
    assert world.schools[school]
    return world


def _as_of(world: World) -> datetime:
    return datetime.combine(world.today, time(12), tzinfo=UTC)


async def _pull(h: Harness, world: World, store: Store, mode: PullMode = PullMode.FULL) -> None:
    school = next(iter(world.schools))
    app = h.app(world)
    saved: dict[str, Any] = {}
    target = h.target(world, BASE_URL, school, True)
    async with h.connect(
        world, target, transport=httpx.ASGITransport(app=app), state=saved, save_state=saved.update
    ) as c:
        await pull(store, c, mode=mode)


def _keys(result: ComplianceResult, rules: set[str]) -> set[tuple[Any, ...]]:
    return {f.key() for f in result.findings if f.rule in rules}


@pytest.fixture(params=harnesses(), ids=lambda h: h.platform)
def harness(request: pytest.FixtureRequest) -> Harness:
    h: Harness = request.param
    return h


async def test_same_world_same_findings_on_every_platform(tmp_path: Any) -> None:
    profile = get_profile("all")
    truth_world = _world()
    school = next(iter(truth_world.schools))
    truth = check_frame(
        frame_from_records(school, truth_world.canonical(school, "truth")),
        profile,
        as_of=_as_of(truth_world),
    )
    assert len(truth.by_rule()["grade1.no_marks"]) == 2
    results: dict[str, ComplianceResult] = {}
    for h in harnesses():
        world = _world()
        with Store.open(f"sqlite:///{tmp_path}/{h.platform}.db") as store:
            await _pull(h, world, store)
            frame = frame_from_store(store, school, h.platform)
            results[h.platform] = check_frame(
                frame,
                profile,
                as_of=_as_of(world),
                platform=h.platform,
                capabilities=h.connector.capabilities,
            )
    assert results, "no connector harness registered"
    for platform, result in results.items():
        caps = next(h for h in harnesses() if h.platform == platform).connector.capabilities
        both = set(result.checked) & set(truth.checked)
        # (a rule the truth could not check — no entry times — has nothing to compare with)
        partial = both & {n.rule for n in result.not_checked if n.reason.startswith("частично")}
        assert _keys(result, both - partial) == _keys(truth, both - partial), platform
        # Checked in part: what is found is true, and the result says what could be missed.
        assert _keys(result, partial) <= _keys(truth, partial), platform
        assert len(result.by_rule()["grade1.no_marks"]) == 2, platform
        # A rule left out is named, with a reason, and only when the platform or the data
        # really cannot support it.
        for nc in result.not_checked:
            assert nc.platform == platform and nc.reason
        for rule in set(truth.checked) - set(result.checked):
            reasons = [n.reason for n in result.not_checked if n.rule == rule]
            assert reasons, f"{platform}: {rule} neither checked nor explained"
            lost = {f for fields in caps.fields_not_carried.values() for f in fields}
            assert any(platform in r for r in reasons) or lost, reasons


async def test_work_type_not_carried_makes_the_rule_not_checked() -> None:
    from dataclasses import replace

    h = harnesses()[0]
    caps = h.connector.capabilities
    blind = replace(
        caps,
        fields_not_carried={**caps.fields_not_carried, "mark": frozenset({"work_type"})},
    )
    world = _world()
    school = next(iter(world.schools))
    result = check_frame(
        frame_from_records(school, world.canonical(school, h.platform)),
        get_profile("gymn2-krasnoyarsk"),
        as_of=_as_of(world),
        platform=h.platform,
        capabilities=blind,
    )
    assert "marks.work_type" not in result.checked
    reason = next(n.reason for n in result.not_checked if n.rule == "marks.work_type")
    assert "work_type" in reason and h.platform in reason


async def test_store_path_equals_records_path_and_reads_the_change_log(tmp_path: Any) -> None:
    h = next(h for h in harnesses() if h.platform == "netschool")
    world = _world()
    school = next(iter(world.schools))
    with Store.open(f"sqlite:///{tmp_path}/s.db") as store:
        await _pull(h, world, store)
        profile = get_profile("all")
        from_store = check_frame(
            frame_from_store(store, school, h.platform), profile, as_of=_as_of(world)
        )
        from_records = check_frame(
            frame_from_records(school, store.remote_records(school, h.platform)),
            profile,
            as_of=_as_of(world),
        )
        assert {f.key() for f in from_store.findings} == {f.key() for f in from_records.findings}
        # A reason corrected on the platform: the next pull's change log carries it.
        group = next(g for g in world.groups.values() if world.classes[g.class_id].grade == 5)
        lesson, student = group.lesson_ids[0], group.member_ids[0]
        world.set_attendance(lesson, student, AttendanceCode.ABSENT)
        await _pull(h, world, store, PullMode.INCREMENTAL)
        world.set_attendance(lesson, student, AttendanceCode.ILL)
        await _pull(h, world, store, PullMode.INCREMENTAL)
        frame = frame_from_store(store, school, h.platform)
        assert "attendance" in frame.history
        assert len(frame.reason_fixes) == 1
        assert frame.l_day[frame.reason_fixes[0].lesson] == world.lessons[lesson].day.toordinal()
        late = datetime.combine(world.lessons[lesson].day, time(12), tzinfo=UTC) + timedelta(
            days=30
        )
        assert late  # the fix's own time is the wall clock of this test run, so no count here
