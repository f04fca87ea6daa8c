"""A pupil moved to another subgroup between two pulls, on every family-account platform, end to
end: the platform's emulator on a loopback socket, its real connector, a real SQLite store.

A family account shows only the pupil's current groups, so after the move the old subgroup's
marks and absences of that pupil are out of the accounts' sight. The second pull must keep them
(losing sight of a record is not its deletion), record the move (the groups' member lists in the
change log → the frame's ``group_moves``), and the marks per pupil × subject × period must still
count them (issue 14, "false findings").
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.world import GroupInfo, World, WorldSize
from core.codes import AttendanceCode, MarkValue
from core.compliance import frame_from_store
from core.compliance._rules_marks import _pupil_periods
from core.model import Attendance, Group, Mark, Record
from core.store import Store
from core.sync import pull

pytestmark = pytest.mark.slow

FAMILY = ("kiasuo", "ruobr", "perm", "avers")
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=2)


def _harness(platform: str) -> Harness:
    return next(h for h in harnesses() if h.platform == platform)


def _subgroups(world: World) -> tuple[GroupInfo, GroupInfo]:
    g1 = next(g for g in world.groups.values() if g.subgroup == 1)
    g2 = next(
        g
        for g in world.groups.values()
        if g.subgroup == 2 and (g.class_id, g.subject_id) == (g1.class_id, g1.subject_id)
    )
    return g1, g2


def _seed_history(world: World, g1: GroupInfo) -> int:
    """The pupil of subgroup 1 who will move, with a mark and an absence there (past days)."""
    pupil = g1.member_ids[0]
    past = [world.lessons[lid] for lid in g1.lesson_ids if world.lessons[lid].day < world.today]
    assert len(past) >= 2
    world.set_mark(past[0].ext_id, pupil, "answer", MarkValue.FIVE)
    world.set_attendance(past[1].ext_id, pupil, AttendanceCode.ABSENT)
    return pupil


def _canonical_ids(world: World, slug: str, platform: str, pupil: int, g1: GroupInfo) -> Any:
    truth = world.canonical(slug, platform)
    group = next(r for r in truth if isinstance(r, Group) and r.provenance and _gid(r) == g1.ext_id)
    lessons = {r.id for r in truth if r.ENTITY == "lesson" and r.group_id == group.id}  # type: ignore[attr-defined]
    person = next(
        r.id
        for r in truth
        if r.ENTITY == "person" and r.key.endswith(f":{pupil}")  # type: ignore[attr-defined]
    )
    history = {
        r.id
        for r in truth
        if isinstance(r, Mark | Attendance) and r.student_id == person and r.lesson_id in lessons
    }
    return group.id, person, history


def _gid(r: Record) -> int | None:
    ids = r.provenance.external_ids if r.provenance else {}
    raw = ids.get("id")
    return int(raw) if raw is not None and str(raw).isdigit() else None


@pytest.mark.parametrize("platform", FAMILY)
def test_a_moved_pupils_old_subgroup_history_survives_the_next_pull(
    platform: str, tmp_path: Path
) -> None:
    h = _harness(platform)
    world = World.generate(h.seed, SIZE)
    slug = next(iter(world.schools))
    g1, g2 = _subgroups(world)
    pupil = _seed_history(world, g1)
    g1_id, person, history = _canonical_ids(world, slug, platform, pupil, g1)
    assert history

    with (
        serve_in_thread(h.app(world)) as server,
        Store.open(f"sqlite:///{tmp_path}/{platform}.db") as store,
    ):
        target = h.target(world, server.base_url, slug, True)

        def run() -> None:
            async def go() -> None:
                conn = h.connect(
                    world,
                    target,
                    state=store.load_state(slug, platform),
                    save_state=lambda st: store.save_state(slug, platform, st),
                )
                async with conn:
                    await pull(store, conn, limits=None)

            asyncio.run(go())

        run()
        live = {r.id for r in store.remote_records(slug, platform)}
        seen = history & live
        entity = {r.id: r.ENTITY for r in store.remote_records(slug, platform)}
        # the first pull reads the pupil's marks and absences in subgroup 1
        assert {entity[i] for i in seen} == {"mark", "attendance"}
        members = {r.id: r for r in store.remote_records(slug, platform, "group")}
        assert person in members[g1_id].member_ids  # type: ignore[attr-defined]

        world.move_student(pupil, g2.ext_id)
        run()

        # 1. kept: nothing of the old subgroup's history of that pupil is deleted or stale
        after = {r.id for r in store.remote_records(slug, platform)}
        assert seen <= after
        deleted = {c.record_id for c in store.remote_changes(slug, platform) if c.kind == "deleted"}
        assert not (seen & deleted)
        assert store.stale_counts(slug, platform) == {}

        # 2. the move is recorded: old subgroup without the pupil, new one with, in the history
        groups = {r.id: r for r in store.remote_records(slug, platform, "group")}
        new_id = next(
            gid
            for gid, g in groups.items()
            if g.subgroup == 2 and g.subject_id == groups[g1_id].subject_id  # type: ignore[attr-defined]
        )
        assert person not in groups[g1_id].member_ids  # type: ignore[attr-defined]
        assert person in groups[new_id].member_ids  # type: ignore[attr-defined]
        frame = frame_from_store(store, slug, platform)
        p = frame.person_ids.index(person)
        moves = {(frame.group_ids[m.group], m.joined) for m in frame.group_moves if m.student == p}
        assert moves == {(g1_id, False), (new_id, True)}

        # 3. counted: marks per pupil × subject × period include the old subgroup's
        lesson_group = {
            r.id: r.group_id  # type: ignore[attr-defined]
            for r in store.remote_records(slug, platform, "lesson")
        }
        subject_id = groups[g1_id].subject_id  # type: ignore[attr-defined]
        mine = [
            m
            for m in store.remote_records(slug, platform, "mark")
            if m.student_id == person  # type: ignore[attr-defined]
            and m.value is not MarkValue.DOT  # type: ignore[attr-defined]
            and groups[lesson_group[m.lesson_id]].subject_id == subject_id  # type: ignore[attr-defined]
        ]
        assert {m.id for m in mine} & seen, "the old subgroup's marks are the pupil's marks"
        g1_subject = int(frame.group_subject[frame.group_ids.index(g1_id)])
        rows = [
            pp
            for pp in _pupil_periods(frame, 10**7)
            if pp.student == p and int(frame.group_subject[pp.group]) == g1_subject
        ]
        assert sum(pp.marks for pp in rows) == len(mine)


@pytest.mark.parametrize("platform", FAMILY)
def test_a_pupil_moved_to_another_class_keeps_the_old_class_history(
    platform: str, tmp_path: Path
) -> None:
    h = _harness(platform)
    world = World.generate(h.seed, WorldSize(grades=(5,), letters=2, students_per_class=4, weeks=2))
    slug = next(iter(world.schools))
    a, b = sorted(world.classes.values(), key=lambda c: c.letter)
    whole = next(world.groups[g] for g in a.group_ids if world.groups[g].subgroup == 0)
    pupil = a.student_ids[0]
    past = [world.lessons[i] for i in whole.lesson_ids if world.lessons[i].day < world.today]
    world.set_mark(past[0].ext_id, pupil, "answer", MarkValue.FOUR)
    world.set_attendance(past[1].ext_id, pupil, AttendanceCode.ABSENT)
    _, _, history = _canonical_ids(world, slug, platform, pupil, whole)
    with (
        serve_in_thread(h.app(world)) as server,
        Store.open(f"sqlite:///{tmp_path}/{platform}.db") as store,
    ):
        target = h.target(world, server.base_url, slug, True)

        def run() -> None:
            async def go() -> None:
                conn = h.connect(
                    world,
                    target,
                    state=store.load_state(slug, platform),
                    save_state=lambda st: store.save_state(slug, platform, st),
                )
                async with conn:
                    await pull(store, conn, limits=None)

            asyncio.run(go())

        run()
        seen = history & {r.id for r in store.remote_records(slug, platform)}
        assert seen
        world.move_student_to_class(pupil, b.ext_id)
        run()
        after = {r.id for r in store.remote_records(slug, platform)}
        assert seen <= after
        assert store.stale_counts(slug, platform) == {}
        # the move is recorded: the pupil's enrollment in the new class appears in the log
        classes = {r.id: r for r in store.remote_records(slug, platform, "class_unit")}
        new_class = next(i for i, c in classes.items() if c.letter == b.letter)  # type: ignore[attr-defined]
        person = next(iter(history_of(store, slug, platform, seen)))
        joined = [
            c
            for c in store.remote_changes(slug, platform, "enrollment")
            if c.kind == "inserted"
            and (c.after or store_data(store, slug, platform, c.record_id)).get("class_id")
            == new_class
        ]
        assert any(
            (c.after or store_data(store, slug, platform, c.record_id)).get("student_id") == person
            for c in joined
        )
        # counted: the old class's marks stay the pupil's marks per subject × period
        frame = frame_from_store(store, slug, platform)
        p = frame.person_ids.index(person)
        old_marks = [
            r
            for r in store.remote_records(slug, platform, "mark")
            if r.id in seen and r.student_id == person  # type: ignore[attr-defined]
        ]
        counted = sum(pp.marks for pp in _pupil_periods(frame, 10**7) if pp.student == p)
        assert old_marks and counted >= len(old_marks)


def history_of(store: Store, slug: str, platform: str, ids: set[str]) -> set[str]:
    """The pupils of these marks/absences."""
    return {
        r.student_id  # type: ignore[attr-defined]
        for r in store.remote_records(slug, platform)
        if r.id in ids and r.ENTITY in ("mark", "attendance")
    }


def store_data(store: Store, slug: str, platform: str, record_id: str) -> dict[str, Any]:
    """A live record's data (the change log keeps no data for an insert)."""
    return next((r.data() for r in store.remote_records(slug, platform) if r.id == record_id), {})
