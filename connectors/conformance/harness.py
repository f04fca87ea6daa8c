"""What the conformance suite needs to know about a platform."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core.connector import Connector, SchoolTarget
from core.model import Record

__all__ = ["BASE_URL", "Harness", "harnesses"]

#: Where the suite serves every emulator (``httpx.ASGITransport``): targets point here, and an
#: ``expected`` that holds URLs (ЭПОС attachments) builds them on it.
BASE_URL = "http://emulator.test"


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

    def app(self, world: World, faults: Faults | None = None) -> Any:
        return self.create_app(world, faults=faults or Faults())


def harnesses() -> list[Harness]:
    found: list[Harness] = []
    for ep in sorted(entry_points(group="journalsync.harnesses"), key=lambda e: e.name):
        h = ep.load()
        if not isinstance(h, Harness):
            raise TypeError(f"entry point {ep.name} is not a Harness")
        found.append(h)
    return found
