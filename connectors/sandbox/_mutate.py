"""Random plausible teacher edits, for tests of incremental pulls and for the demo."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from core.codes import AttendanceCode, MarkValue

if TYPE_CHECKING:
    from connectors.sandbox._state import WorldState as World

_VALUES = (MarkValue.TWO, MarkValue.THREE, MarkValue.FOUR, MarkValue.FIVE)


def mutate_random(world: World, rng: random.Random, n: int, school: str | None) -> list[str]:
    lessons = [
        le
        for le in world.lessons.values()
        if (g := world.groups[le.group_id]).school == (school or g.school)
        and world.classes[g.class_id].grade > 1
    ]
    out: list[str] = []
    while len(out) < n and lessons:
        le = rng.choice(lessons)
        g = world.groups[le.group_id]
        st = rng.choice(g.member_ids)
        kind = rng.choice(("mark", "mark", "delete", "attendance", "topic"))
        marked = [a for a in world.lesson_assignments(le) if a.marks]
        if kind == "delete" and marked:
            a = rng.choice(marked)
            victim = rng.choice(sorted(a.marks))
            world.delete_mark(a.ext_id, victim)
            out.append(f"delete mark: lesson {le.ext_id} assignment {a.ext_id} student {victim}")
        elif kind in ("mark", "delete"):
            value = rng.choice(_VALUES)
            aid = world.set_mark(le.ext_id, st, "answer", value)
            out.append(f"set mark {value}: lesson {le.ext_id} assignment {aid} student {st}")
        elif kind == "attendance":
            code = None if st in le.attendance else rng.choice(list(AttendanceCode))
            world.set_attendance(le.ext_id, st, code)
            out.append(f"attendance {code}: lesson {le.ext_id} student {st}")
        else:
            topic = rng.choice(g.ktp).name
            world.set_topic(le.ext_id, topic)
            out.append(f"topic {topic!r}: lesson {le.ext_id}")
    return out
