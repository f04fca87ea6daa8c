"""Pull → map → store throughput, emulator in-process (httpx.ASGITransport), one core.

A school of about 1,000 students (grades 1–11 × 4 classes × 23 students) over 4 weeks. The world
is generated before the clock starts; the emulator's own rendering is inside the timed part, so
the figure is a lower bound for the connector and the store. Both wall-clock and CPU-time rates
are printed: on a shared machine the CPU-time rate is the one-core figure.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench._util import peak_rss_mib
from connectors.conformance.harness import harnesses
from connectors.sandbox import World, WorldSize
from core.logging import configure_logging
from core.store import Store
from core.sync import pull
from journalsync.sandbox_cmd import emulator_factory

#: The same school on every platform. Those that show one family per account are read with
#: one login per family (about 1,000 accounts; ЭПОС: a parent's and a child's each), so their
#: figure includes the logins.
FULL = WorldSize(grades=tuple(range(1, 12)), letters=4, students_per_class=23, weeks=4)
QUICK = WorldSize(grades=(5, 6), letters=1, students_per_class=10, weeks=1)


def run(url: str, *, platform: str, quick: bool) -> dict[str, Any]:
    configure_logging(level="WARNING")
    # The accounts a school pull uses on this platform (an administrator on NetSchool, every
    # family on the student/parent APIs), as the platform's conformance harness builds them.
    harness = harnesses([platform])[0]
    size = QUICK if quick else FULL
    world = World.generate(2026, size)
    school = next(iter(world.schools.values()))
    app = emulator_factory(platform)(world)
    target = harness.target(world, "http://emulator.bench", school.slug, True)
    store = Store.open(url)
    connector = harness.connect(world, target, transport=httpx.ASGITransport(app=app))

    async def go() -> int:
        async with connector:
            result = await pull(store, connector)
        return result.records

    t0, c0 = time.perf_counter(), time.process_time()
    records = asyncio.run(go())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    store.close()
    students = len(world.accounts(school.slug, "student"))
    return {
        "records": records,
        "students": students,
        "accounts": len(target.all_accounts),
        "weeks": size.weeks,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "records_per_s": records / seconds,
        "records_per_cpu_s": records / cpu,
        "peak_rss_mib": round(peak_rss_mib()),
    }
