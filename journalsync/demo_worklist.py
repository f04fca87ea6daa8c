"""The demo's loop for platforms with no known write API: the worklist channel.

For each such platform: its emulator on loopback, a pull, a small local journal imported, the
changes turned into a per-teacher worklist (XLSX, PDF, JSON), entered by hand through the
emulator's operator endpoint — one value mistyped, as happens — and a pull that verifies the
entries and shows the mistyped one as drift.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from connectors.conformance.harness import Harness
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.connector import Connector, PullMode
from core.importer import import_csv
from core.store import Store
from core.sync import pull, reconcile, sync_school
from core.worklist import build_worklists, to_json, write_pdf, write_xlsx
from journalsync._common import console
from journalsync.demo_journal import write_local_journal

__all__ = ["WORKLIST_SIZE", "WorklistDemo", "run_worklist_platform"]

WORKLIST_SIZE = WorldSize(grades=(5, 6), letters=1, students_per_class=10, weeks=2)


@dataclass
class WorklistDemo:
    platform: str
    pulled: int = 0
    imported: int = 0
    quarantined_rows: int = 0
    awaiting_entry: int = 0
    worklists: int = 0
    verified: int = 0
    drift: int = 0
    error: str = ""


async def _run(
    harness: Harness, world: World, store: Store, base_url: str, workdir: Path
) -> WorklistDemo:
    platform = harness.platform
    out = WorklistDemo(platform)
    school = next(iter(world.schools))
    target = harness.target(world, base_url, school, True)

    def connector() -> Connector:
        return harness.connect(
            world,
            target,
            state=store.load_state(school, platform),
            save_state=lambda s: store.save_state(school, platform, s),
        )

    async with connector() as c:
        out.pulled = (await pull(store, c)).records
    csv_path = workdir / f"{platform}-local-journal.csv"
    write_local_journal(store, school, platform, csv_path)
    imported = import_csv(store, school, platform, csv_path, actor="demo")
    out.imported, out.quarantined_rows = imported.records, len(imported.quarantine)

    async with connector() as c:
        report = await sync_school(store, c, run_key=f"demo:{platform}:1")
    out.awaiting_entry = report.counts().get("awaiting_entry", 0)

    lists = build_worklists(store, school, platform)
    out.worklists = len(lists)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        for n, wl in enumerate(lists):
            stem = workdir / f"{platform}-worklist-{n + 1}"
            write_xlsx(wl, stem.with_suffix(".xlsx"))
            write_pdf(wl, stem.with_suffix(".pdf"))
            # The teacher enters the list by hand; one entry of the first list mistyped.
            r = await http.post(
                "/_sandbox/operator/apply-worklist",
                json={"worklist": to_json(wl), "mistype": 1 if n == 0 else 0},
            )
            r.raise_for_status()

    async with connector() as c:
        await pull(store, c, mode=PullMode.INCREMENTAL)
        found = reconcile(store, school, platform, capabilities=c.capabilities)
    out.verified = len(store.outbox(school, platform, status="verified"))
    out.drift = found.drift
    return out


def run_worklist_platform(harness: Harness, workdir: Path, seed: int) -> WorklistDemo:
    world = World.generate(seed, WORKLIST_SIZE)
    db = workdir / f"{harness.platform}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store.open(f"sqlite:///{db}")
    try:
        with serve_in_thread(harness.app(world)) as server:
            console.print(f"emulator: {harness.platform} at {server.base_url}")
            return asyncio.run(_run(harness, world, store, server.base_url, workdir))
    except Exception as exc:
        return WorklistDemo(harness.platform, error=f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
