"""The deterministic "world": schools, people, timetable, lessons, marks — shared by every emulator.

``World.generate(seed, size)`` builds the whole truth of one or more schools from a seed (one
``random.Random``, no clock), so tests and the demo can compare a connector's pull with
:meth:`World.canonical`. Emulators render the same world in their platform's wire format and
change it through the mutation API below, so a write on the platform side is visible to the next
read and to :meth:`World.canonical`. Every change bumps :attr:`World.version` and stamps the
lesson it touched (``LessonInfo.updated``), which is how an emulator answers "changed since".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from connectors.sandbox._canonical import canonical
from connectors.sandbox._entities import (
    Account,
    AssignmentInfo,
    ClassInfo,
    GroupInfo,
    LessonInfo,
    PeriodInfo,
    PersonInfo,
    SchoolInfo,
    SubjectInfo,
    TimetableSlot,
    TopicInfo,
    YearInfo,
)
from connectors.sandbox._generate import calendar_for_day, populate
from connectors.sandbox._mutate import mutate_random
from connectors.sandbox._state import WorldSize, WorldState
from core.model import Record

__all__ = [
    "Account",
    "AssignmentInfo",
    "ClassInfo",
    "GroupInfo",
    "LessonInfo",
    "PeriodInfo",
    "PersonInfo",
    "SchoolInfo",
    "SubjectInfo",
    "TimetableSlot",
    "TopicInfo",
    "World",
    "WorldSize",
    "YearInfo",
]


@dataclass
class World(WorldState):
    """The whole state. Build it with :meth:`generate`; entities are keyed by ``ext_id``."""

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def generate(
        cls, seed: int, size: WorldSize | None = None, *, today: date | None = None
    ) -> World:
        """The world of ``seed`` and ``size``. ``today`` (read from a clock by the caller) moves
        the calendar to the school year holding it, generates lessons through its week and makes it
        :attr:`today`, so a sandbox started today has a current week; without it the calendar is
        ``size.start_year`` and ``size.weeks`` and :attr:`today` the last week's Saturday."""
        size = size or WorldSize()
        if today is not None:
            size = calendar_for_day(size, today)
        world = cls(seed=seed, size=size)
        populate(world, random.Random(seed), today)
        return world

    def mutate_random(self, rng: random.Random, n: int, school: str | None = None) -> list[str]:
        """Make ``n`` plausible teacher edits (marks, attendance, topics); describe each."""
        return mutate_random(self, rng, n, school)

    # -- canonical truth ---------------------------------------------------------------------

    def canonical(self, school_slug: str, platform: str) -> list[Record]:
        """The whole truth of one school as canonical records (see ``_canonical``)."""
        return canonical(self, school_slug, platform)
