"""``journalsync demo``: the whole loop on the bundled emulator, over loopback, into SQLite.

1. start the emulator of the first installed platform with a write API (NetSchool today) on
   127.0.0.1 with a deterministic world;
2. pull the school into a fresh SQLite file (resumable, page by page);
3. import a small local journal (CSV, as a school keeps on paper during an outage), one row of
   which is broken and is quarantined with its reason;
4. sync: reconcile finds the local entries missing on the platform, pushes them through the
   teacher journal write API, reads them back, verifies, re-pulls;
5. a teacher changes the platform side (one mark edited, one absence removed);
6. pull again and show the drift found.

Then, for every other platform (none has a known write API), the worklist loop of
``demo_worklist``: pull, local journal, a worklist per teacher (XLSX/PDF), entered by hand
through the emulator's operator endpoint with one value mistyped, pull, verified + drift.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.connector import Connector, Credentials, Page, PullMode, PushChannel, SchoolTarget
from core.errors import ConfigError
from core.files import private_dir
from core.importer import import_csv
from core.logging import register_secret
from core.model import Attendance, Mark
from core.platform import Platform, platforms
from core.store import Store
from core.sync import PullResult, pull, reconcile, sync_school
from journalsync._common import console
from journalsync.demo_journal import write_local_journal
from journalsync.demo_worklist import WorklistDemo, run_worklist_platform
from journalsync.drift_cmd import print_findings

__all__ = ["DEMO_SIZE", "DemoResult", "run_demo"]

DEMO_SIZE = WorldSize(grades=(5, 6, 7, 8, 9), letters=1, students_per_class=20, weeks=3)


def _fresh_db(workdir: Path) -> Path:
    private_dir(workdir)
    db = workdir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return db


async def _pull_with_progress(store: Store, connector: Connector, mode: PullMode) -> PullResult:
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[pages]} pages · {task.fields[records]} records"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"pull ({mode})", total=None, pages=0, records=0)

        def on_page(page: Page, result: PullResult) -> None:
            progress.update(task, pages=result.pages, records=result.records)

        result = await pull(store, connector, mode=mode, on_page=on_page)
        progress.update(task, description=f"pull ({mode}) done")
        return result


def api_platform() -> Platform:
    """The platform the demo's first loop runs on: the first installed one with a write API."""
    for found in platforms().values():
        if found.connector.capabilities.channel(PushChannel.API) is not None:
            return found
    raise ConfigError("no installed platform offers a write API: the demo needs one")


def _platform_side_edit(
    harness: Harness, world: World, store: Store, school: str, platform: str
) -> list[str]:
    """A teacher edits the platform directly: one pushed mark changed, one absence removed
    (the harness places a pulled record in the emulator's world)."""
    remote = {r.id: r for r in store.remote_records(school, platform)}
    local = [r for r in store.local_records(school) if r.id in remote]
    done: list[str] = []
    for kind in (Mark, Attendance):
        record = next((r for r in local if isinstance(r, kind)), None)
        if record is not None:
            line = harness.edit_on_platform(world, remote, remote[record.id])
            if line is None:
                raise ConfigError(f"{platform}: its harness cannot edit the platform side")
            done.append(line)
    return done


@dataclass(frozen=True)
class DemoResult:
    exit_code: int
    world: World
    school: str
    db: Path
    summary: dict[str, int]
    worklist_platforms: list[WorklistDemo] = field(default_factory=list)


def run_demo(workdir: Path, *, seed: int = 7) -> DemoResult:
    db = _fresh_db(workdir)
    world = World.generate(seed, DEMO_SIZE)
    school = next(iter(world.schools.values()))
    admin = world.accounts(school.slug, "admin")[0]
    register_secret(admin.password)
    api = api_platform()
    name = api.name
    api_harness = api.load_harness()
    if not isinstance(api_harness, Harness):
        raise ConfigError(f"platform {name}: {api.harness} is not a Harness")
    app = api.create_app()(world)
    console.rule("journalsync demo")
    with serve_in_thread(app) as server:
        console.print(f"emulator: {name} at {server.base_url} · store: sqlite:///{db}")
        store = Store.open(f"sqlite:///{db}")
        target = SchoolTarget(
            school=school.slug,
            platform=name,
            base_url=server.base_url,
            credentials=Credentials(login=admin.login, password=admin.password),
            platform_school=school.short_name,
        )
        connector = api.connector(target, today=world.today)
        summary: Counter[str] = Counter()

        async def main() -> None:
            async with connector:
                console.rule("1. pull")
                first = await _pull_with_progress(store, connector, PullMode.FULL)
                summary["pulled"] = first.records
                console.print(dict(sorted(first.by_entity.items())))

                console.rule("2. import the local journal")
                csv_path = workdir / "local-journal.csv"
                rows = write_local_journal(store, school.slug, name, csv_path)
                imported = import_csv(store, school.slug, name, csv_path, actor="demo")
                summary["imported"] = imported.records
                summary["quarantined rows"] = len(imported.quarantine)
                console.print(f"{csv_path}: {rows} rows → {imported.records} records")
                for q in imported.quarantine:
                    console.print(f"  [yellow]quarantined[/] {q.reason}")

                console.rule("3. sync: reconcile → push → verify")
                report = await sync_school(store, connector, run_key="demo:sync:1")
                counts = report.counts()
                summary["pushed"] = counts.get("pushed", 0)
                summary["verified"] = counts.get("verified", 0)
                console.print(
                    f"run {report.run.state}: pushed {counts.get('pushed', 0)}, "
                    f"verified {counts.get('verified', 0)}, "
                    f"open drift after verify {len(store.findings(school.slug, name, 'open'))}"
                )

                console.rule("4. a teacher edits the platform")
                for line in _platform_side_edit(api_harness, world, store, school.slug, name):
                    console.print(f"  {line}")

                console.rule("5. pull again and compare")
                await _pull_with_progress(store, connector, PullMode.INCREMENTAL)
                found = reconcile(store, school.slug, name, capabilities=connector.capabilities)
                summary["drift found"] = found.drift
            summary["open findings"] = print_findings(store, school.slug, name)

        asyncio.run(main())
        store.close()
    table = Table(title=f"demo summary — {name} (api channel)")
    table.add_column("step")
    table.add_column("count", justify="right")
    for k, v in summary.items():
        table.add_row(k, str(v))
    console.print(table)
    ok = summary["verified"] > 0 and summary["drift found"] > 0

    others = [h for h in harnesses() if h.platform != name]
    results: list[WorklistDemo] = []
    for harness in others:
        console.rule(f"{harness.platform}: no write API — the worklist channel")
        results.append(run_worklist_platform(harness, workdir, seed))
    if results:
        console.print(_worklist_table(results))
        ok = ok and all(not r.error and r.verified > 0 and r.drift > 0 for r in results)
    return DemoResult(0 if ok else 1, world, school.slug, db, dict(summary), results)


def _worklist_table(results: list[WorklistDemo]) -> Table:
    """One row per platform, readable at 80 columns; a platform's error goes under the table."""
    table = Table(
        title="demo summary — platforms without a write API (worklist channel)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="\n".join(f"{r.platform}: {r.error[:200]}" for r in results if r.error) or None,
        caption_justify="left",
    )
    cols = ("platform", "pulled", "imported", "bad rows", "to enter", "worklists", "verified",
            "drift")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col == "platform" else "right", no_wrap=True)
    for r in results:
        table.add_row(
            r.platform, str(r.pulled), str(r.imported), str(r.quarantined_rows),
            str(r.awaiting_entry), str(r.worklists), str(r.verified), str(r.drift),
        )  # fmt: skip
    return table
