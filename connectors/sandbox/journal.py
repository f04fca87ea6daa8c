"""The ``--journal`` option of the sandbox: what of a generated world's journal is served.

``full`` (the default) serves the world as generated. ``empty`` keeps the school's roster
(people, classes, subjects, groups, accounts), its calendar and timetable (every lesson with its
date, number, times and teacher, and each group's planned topics) and drops what teachers record:
marks, attendance, lesson topics, homework and final marks — a platform the school has just moved
to, where the migration (or an offline journal's carry-over) has yet to write the journal. The
platform's own ids are the emulator's, as for a full world: the same seed serves the same ids.
"""

from __future__ import annotations

from typing import Literal

from connectors.sandbox.world import World

__all__ = ["JOURNALS", "JournalContent", "empty_journal"]

JournalContent = Literal["full", "empty"]
JOURNALS: tuple[JournalContent, ...] = ("full", "empty")


def empty_journal(world: World) -> World:
    """Drop the world's marks, attendance, topics, homework and final marks (in place)."""
    for lesson in world.lessons.values():
        lesson.topic = ""
        lesson.attendance.clear()
        lesson.assignment_ids.clear()
        lesson.updated = world.version
    world.assignments.clear()
    world.final_marks.clear()
    return world
