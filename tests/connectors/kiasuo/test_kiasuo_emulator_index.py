"""The КИАСУО emulator's render index: what it keeps across requests never shows a world that
has changed since (marks, absences, homework, a pupil's subgroup), and an answer through it is
the answer rendered without it.

The answers were also compared byte for byte with the renderer before the index (every child,
every week and term of two worlds, before and after random edits): equal.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from connectors.kiasuo import _emulator_render as render
from connectors.sandbox.world import World, WorldSize
from core.codes import AttendanceCode, MarkValue

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=6, weeks=3)


def _answers(world: World, index: render.Index | None) -> list[str]:
    """Every answer as its JSON text (compared as text: what the emulator serves)."""
    out: list[object] = []
    school = next(iter(world.schools.values()))
    monday = school.year.start - timedelta(days=school.year.start.weekday())
    for pid in school.person_ids:
        st = world.persons[pid]
        if st.role != "student":
            continue
        for period in school.periods[:2]:
            out.append(render.lesson_marks(world, st, period, index))
        for k in range(4):
            out.append(render.schedule(world, st, monday + timedelta(weeks=k), None, index))
    return [json.dumps(x, ensure_ascii=False) for x in out]


def _differ(a: list[str], b: list[str]) -> int:
    """How many answers differ (a count: a diff of the texts would be too long to show)."""
    assert len(a) == len(b)
    return sum(x != y for x, y in zip(a, b, strict=True))


def _edit(world: World) -> None:
    past = sorted(
        (le for le in world.lessons.values() if le.day < world.today),
        key=lambda le: (le.day, le.number, le.ext_id),
    )
    le = past[len(past) // 2]
    pupil = world.groups[le.group_id].member_ids[0]
    world.set_mark(le.ext_id, pupil, "answer", MarkValue.TWO)
    world.set_attendance(past[-1].ext_id, world.groups[past[-1].group_id].member_ids[0], None)
    world.set_attendance(
        past[3].ext_id, world.groups[past[3].group_id].member_ids[-1], AttendanceCode.ILL
    )
    world.set_homework(past[5].ext_id, "Упр. 7", past[5].day + timedelta(days=2))
    g1 = next(g for g in world.groups.values() if g.subgroup == 1)
    g2 = next(
        g
        for g in world.groups.values()
        if g.subgroup == 2 and (g.class_id, g.subject_id) == (g1.class_id, g1.subject_id)
    )
    world.move_student(g1.member_ids[0], g2.ext_id)
    world.mutate_random(random.Random(7), 20)


def test_a_kept_index_answers_as_a_fresh_render_also_after_edits() -> None:
    world = World.generate(4, SIZE)
    assert world.today > date(2026, 9, 10)
    index = render.Index(world)
    before = _answers(world, index)
    assert _differ(before, _answers(world, None)) == 0
    _edit(world)
    after = _answers(world, index)
    assert _differ(after, before) > 0  # the edits show
    assert _differ(after, _answers(world, None)) == 0
