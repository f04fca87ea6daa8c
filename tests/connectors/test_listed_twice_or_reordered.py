"""A record listed twice, or a list in another order, in a platform's answer: the pull equals
a clean one.

Found by the soak (``make soak``, «duplicated records» / «reordered records»): КИАСУО numbered a
duplicated slot as a second mark, ЭПОС a duplicated mark item as a second ordinal, Ruobr's
attendance count (``indx``) moved past a duplicated lesson, АВЕРС numbered a day's lessons of one
subject in the diary's row order and NetSchool kept a subgroup's members in listing order — so a
pull stored records that are not there, or changed ones that had not changed (deleted or changed
back by the next pull, leaving tombstones, history and push targets). Here every answer (JSON,
or АВЕРС's JavaScript rows) has one list changed by the faults middleware.
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
    store = Store.open(f"sqlite:///{tmp}/{h.platform}-{len(list(tmp.iterdir()))}.db")
    try:
        target = h.target(world, BASE, school, True)
        async with h.connect(
            world, target, transport=httpx.ASGITransport(app=h.app(world, faults))
        ) as c:
            await pull(store, c)
        return {r.id: r.content_hash for r in store.remote_records(school, h.platform)}
    finally:
        store.close()


@pytest.mark.slow  # two pulls per case: about 2 s of CPU each
@pytest.mark.parametrize("switch", ["duplicate_records", "reorder_records"])
@pytest.mark.parametrize("platform", ["avers", "kiasuo", "netschool", "perm", "ruobr"])
async def test_every_answer_with_a_list_changed_pulls_what_a_clean_answer_does(
    platform: str, switch: str, tmp_path: Path
) -> None:
    h = next(x for x in harnesses() if x.platform == platform)
    clean = await _pulled(h, tmp_path, Faults())
    faults = Faults(exclude_prefixes=list(h.login_paths), seed=1, **{switch: 10_000})
    changed = await _pulled(h, tmp_path, faults)
    assert faults.injected[switch] > 30
    assert changed == clean
