"""A record listed twice in a platform's answer is read once: the pull equals a clean one.

Found by the soak (``make soak``, class «duplicated records»): КИАСУО numbered a duplicated slot
as a second mark and ЭПОС a duplicated mark item as a second ordinal, so a pull stored marks
that are not there (deleted again by the next pull, leaving tombstones and a push target).
Every JSON answer here has one item of one of its lists twice (the faults middleware).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World
from connectors.sandbox.faults import Faults
from core.store import Store
from core.sync import pull

BASE = "http://emulator.test"


async def _pulled(h: Harness, tmp: Path, faults: Faults) -> dict[str, str]:
    world = World.generate(h.seed, h.size)
    school = next(iter(world.schools.values())).slug
    store = Store.open(f"sqlite:///{tmp}/{h.platform}-{faults.duplicate_records}.db")
    try:
        target = h.target(world, BASE, school, True)
        async with h.connector(
            target, transport=httpx.ASGITransport(app=h.app(world, faults))
        ) as c:
            await pull(store, c)
        return {r.id: r.content_hash for r in store.remote_records(school, h.platform)}
    finally:
        store.close()


@pytest.mark.parametrize("platform", ["kiasuo", "perm"])
async def test_every_answer_with_an_item_twice_pulls_what_a_clean_answer_does(
    platform: str, tmp_path: Path
) -> None:
    h = next(x for x in harnesses() if x.platform == platform)
    clean = await _pulled(h, tmp_path, Faults())
    faults = Faults(duplicate_records=10_000, seed=1, exclude_prefixes=list(h.login_paths))
    doubled = await _pulled(h, tmp_path, faults)
    assert faults.injected["duplicate_records"] > 50
    assert doubled == clean
