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
from connectors.sandbox import World, WorldSize
from core.connector import Credentials, SchoolTarget, connector_class
from core.logging import configure_logging
from core.store import Store
from core.sync import pull
from journalsync.sandbox_cmd import emulator_factory

FULL = WorldSize(grades=tuple(range(1, 12)), letters=4, students_per_class=23, weeks=4)
QUICK = WorldSize(grades=(5, 6), letters=1, students_per_class=10, weeks=1)


def run(url: str, *, platform: str, quick: bool) -> dict[str, Any]:
    configure_logging(level="WARNING")
    size = QUICK if quick else FULL
    world = World.generate(2026, size)
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    app = emulator_factory(platform)(world)
    target = SchoolTarget(
        school=school.slug,
        platform=platform,
        base_url="http://emulator.bench",
        credentials=Credentials(login=admin.login, password=admin.password),
        platform_school=school.short_name,
        options={"today": world.today.isoformat()},
    )
    store = Store.open(url)
    connector = connector_class(platform)(target, transport=httpx.ASGITransport(app=app))

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
        "weeks": size.weeks,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "records_per_s": records / seconds,
        "records_per_cpu_s": records / cpu,
        "peak_rss_mib": round(peak_rss_mib()),
    }
