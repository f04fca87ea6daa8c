"""What the conformance suite needs to know about a platform."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core.codes import MarkValue
from core.connector import Connector, SchoolTarget
from core.http import HttpSettings
from core.model import Attendance, Mark, Record
from core.platform import platforms

__all__ = ["BASE_URL", "FAST", "Harness", "harnesses"]

#: Where the suite serves every emulator (``httpx.ASGITransport``): targets point here, and an
#: ``expected`` that holds URLs (ЭПОС attachments) builds them on it.
BASE_URL = "http://emulator.test"

#: Retries without waiting: the suite checks that faults are retried, not how long it waits.
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)


def _mutate(world: World, rng: random.Random, school: str) -> list[str]:
    return world.mutate_random(rng, 12, school)


def _canonical(world: World, school: str, platform: str) -> list[Record]:
    return world.canonical(school, platform)


#: Small enough for fast cases, with grade 1 (no marks allowed) and subgroups (grade ≥ 5).
SMALL = WorldSize(grades=(1, 5, 7), letters=1, students_per_class=8, weeks=2)


@dataclass(frozen=True)
class Harness:
    platform: str
    connector: type[Connector]
    #: ``create_app(world, faults=…)`` → the emulator's ASGI app.
    create_app: Callable[..., Any]
    #: (world, base_url, school slug, good credentials?) → a target with a school-wide account.
    target: Callable[[World, str, str, bool], SchoolTarget]
    #: Force every session / token of the app to expire now.
    expire_sessions: Callable[[Any], None]
    size: WorldSize = SMALL
    seed: int = 11
    #: A teacher's edits on the platform side, for incremental-pull cases.
    change_platform: Callable[[World, random.Random, str], list[str]] = _mutate
    #: The part of the world a school-wide pull can see (e.g. no guardians on some platforms).
    expected: Callable[[World, str, str], list[Record]] = _canonical
    #: Paths of the login exchange, kept free of faults where a case faults only data calls.
    login_paths: tuple[str, ...] = ()
    #: Schools one emulator (one server of the platform) can host; 0 = any number. АВЕРС is
    #: installed per school, so its server hosts one.
    schools_per_server: int = 0
    #: The HTTP settings its connectors get (no waiting between retries).
    http: HttpSettings = FAST
    #: The sandbox world's id of a pulled lesson, person or mark (a mark: its assignment), read
    #: from the record's provenance — how a teacher's edit on the platform side of a record the
    #: connector pulled is made (:meth:`edit_on_platform`). ``None``: not known for the platform.
    world_id: Callable[[Record], int] | None = None

    def app(self, world: World, faults: Faults | None = None) -> Any:
        return self.create_app(world, faults=faults or Faults())

    def edit_on_platform(
        self, world: World, pulled: Mapping[str, Record], record: Record
    ) -> str | None:
        """A teacher edits on the platform what the connector pulled as ``record``: a mark is
        changed to 3, an absence removed. ``pulled``: the pulled records by id (the lesson and
        the pupil of ``record`` among them). Returns what was done, ``None`` when the harness
        cannot place the record in the world (no :attr:`world_id`, or not a mark or absence)."""
        if self.world_id is None or not isinstance(record, Mark | Attendance):
            return None
        world_id = self.world_id
        lesson, student = world_id(pulled[record.lesson_id]), world_id(pulled[record.student_id])
        if isinstance(record, Mark):
            assignment = world_id(pulled[record.id])
            world.set_mark(lesson, student, record.work_type, MarkValue.THREE, assignment)
            return f"mark {record.value} changed to 3 on the platform"
        world.set_attendance(lesson, student, None)
        return "an absence removed on the platform"

    def connect(
        self,
        world: World,
        target: SchoolTarget,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        state: Mapping[str, Any] | None = None,
        save_state: Callable[[Mapping[str, Any]], None] | None = None,
        http: HttpSettings | None = None,
    ) -> Connector:
        """A connector for ``target`` on the emulator of ``world``, on the world's today."""
        return self.connector(
            target,
            transport=transport,
            state=state,
            save_state=save_state,
            http=http or self.http,
            today=world.today,
        )


def harnesses(names: Collection[str] | None = None) -> list[Harness]:
    """The harness of every installed platform (:mod:`core.platform`), in name order;
    ``names``: only those platforms."""
    found: list[Harness] = []
    for name, platform in platforms().items():
        if names is not None and name not in names:
            continue
        h = platform.load_harness()
        if not isinstance(h, Harness):
            raise TypeError(f"platform {name}: {platform.harness} is not a Harness")
        found.append(h)
    return found
