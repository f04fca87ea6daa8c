"""Coverage on every family-account platform, against its emulator over real HTTP: a pull
through every account reads every pupil and ends done; without the accounts of one pupil it ends
partial, names that pupil for the operator only, and keeps the pupil's records."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.connector import Credentials
from core.store import RunState, Store
from core.sync import sync_school

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)
FAMILY = ["ruobr", "perm", "kiasuo", "avers"]


def _harness(platform: str) -> Harness:
    found = next((h for h in harnesses() if h.platform == platform), None)
    if found is None:
        pytest.skip(f"{platform}: no conformance harness installed")
    return found


def _shows(world: World, cred: Credentials, pupil_id: int) -> bool:
    """Whether an account is the pupil's own or a parent's (by login or harness label)."""
    person = world.account(cred.login)
    if person is None:
        _, _, number = cred.login.rpartition("-")
        person = world.persons.get(int(number)) if number.isdigit() else None
    if person is None:
        return False
    return person.ext_id == pupil_id or pupil_id in person.children


@pytest.mark.parametrize("platform", FAMILY)
async def test_a_missing_account_ends_the_run_partial_naming_the_pupil(
    platform: str, tmp_path: Path
) -> None:
    h = _harness(platform)
    world = World.generate(5, SIZE)
    slug = next(iter(world.schools))
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    server = serve_in_thread(h.app(world))
    try:
        target = h.target(world, server.base_url, slug, True)
        pupils = [p for p in world.persons.values() if p.school == slug and p.role == "student"]

        def connector(t: object) -> object:
            return h.connect(
                world,
                t,  # type: ignore[arg-type]
                state=store.load_state(slug, platform),
                save_state=lambda s: store.save_state(slug, platform, s),
            )

        async with connector(target) as c:  # type: ignore[attr-defined]
            report = await sync_school(store, c, run_key="full", do_push=False)
        assert report.run.state is RunState.DONE, report.run.error
        assert report.coverage is not None
        assert (report.coverage.read, report.coverage.expected) == (len(pupils), len(pupils))
        assert report.run.counts["pupils_read"] == len(pupils)
        persons_before = store.remote_counts(slug, platform)["person"]

        gone = next(p for p in pupils if not _shows(world, target.credentials, p.ext_id))
        fewer = replace(
            target, accounts=tuple(a for a in target.accounts if not _shows(world, a, gone.ext_id))
        )
        assert len(fewer.accounts) < len(target.accounts)
        async with connector(fewer) as c:  # type: ignore[attr-defined]
            report = await sync_school(store, c, run_key="fewer", do_push=False)
        assert report.run.state is RunState.PARTIAL
        assert report.coverage is not None and not report.coverage.ok
        assert (report.coverage.read, report.coverage.expected) == (len(pupils) - 1, len(pupils))
        cls = world.classes[gone.class_id].name  # type: ignore[index]
        missing = report.coverage.missing_by_class()  # АВЕРС gives initials: «Фамилия И О»
        assert {k: [n.split()[0] for n in v] for k, v in missing.items()} == {cls: [gone.last_name]}
        assert report.run.error is not None and gone.last_name not in report.run.error
        # The pupil's records are kept (out of sight, not deleted).
        assert store.remote_counts(slug, platform)["person"] == persons_before
        assert report.pulled is not None and report.pulled.deleted == 0

        # A lower minimum lets the same shortfall end done.
        async with connector(fewer) as c:  # type: ignore[attr-defined]
            report = await sync_school(store, c, run_key="lenient", do_push=False, min_coverage=0.5)
        assert report.run.state is RunState.DONE
    finally:
        server.stop()
        store.close()


@pytest.mark.parametrize("platform", ["ruobr", "perm"])
def test_approving_a_held_pull_still_ends_partial_naming_the_pupils_not_read(
    platform: str, tmp_path: Path
) -> None:
    """A held pull of a family-account school that read too few pupils, once approved, ends
    partial (not done) and names the pupils for the operator — by the school's minimum from
    the config, or without it by the minimum the run recorded when it was held."""
    from typer.testing import CliRunner

    from core.sync import Limit, PullLimits
    from journalsync.cli import app
    from scheduler import approve_run

    h = _harness(platform)
    world = World.generate(5, SIZE)
    slug = next(iter(world.schools))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url)
    server = serve_in_thread(h.app(world))
    hold_any_change = {"*": PullLimits(deletes=Limit(0), updates=Limit(0))}
    try:
        target = h.target(world, server.base_url, slug, True)
        pupils = [p for p in world.persons.values() if p.school == slug and p.role == "student"]
        gone = next(p for p in pupils if not _shows(world, target.credentials, p.ext_id))
        fewer = replace(
            target, accounts=tuple(a for a in target.accounts if not _shows(world, a, gone.ext_id))
        )

        async def held(key: str, minimum: float) -> str:
            world.mutate_random(random.Random(key), 12, slug)  # changes the limits hold
            async with h.connect(
                world,
                fewer,
                state=store.load_state(slug, platform),
                save_state=lambda s: store.save_state(slug, platform, s),
            ) as c:
                report = await sync_school(
                    store,
                    c,
                    run_key=key,
                    operation="pull",
                    do_push=False,
                    pull_limits=hold_any_change,
                    min_coverage=minimum,
                )
            assert report.run.state is RunState.HELD, report.run.error
            assert report.coverage is not None and report.coverage.read == len(pupils) - 1
            return report.run.id

        async def full() -> RunState:
            async with h.connect(
                world,
                target,
                state=store.load_state(slug, platform),
                save_state=lambda s: store.save_state(slug, platform, s),
            ) as c:
                report = await sync_school(store, c, run_key="all", do_push=False)
            return report.run.state

        assert asyncio.run(full()) is RunState.DONE

        # Approved without the config: the minimum recorded with the run (100 %) judges it.
        run_id = asyncio.run(held("held-1", 1.0))
        approved = asyncio.run(approve_run(None, store, run_id, actor="test"))
        assert approved.run.state is RunState.PARTIAL
        assert approved.pulled is not None and approved.pulled.pages > 0  # applied all the same
        assert approved.coverage is not None and not approved.coverage.ok
        cls = world.classes[gone.class_id].name  # type: ignore[index]
        named = approved.coverage.missing_by_class()
        assert {k: [n.split()[0] for n in v] for k, v in named.items()} == {cls: [gone.last_name]}
        assert approved.run.error and gone.last_name not in approved.run.error  # counts only
        assert store.get_run(run_id).counts["pupils_read"] == len(pupils) - 1

        # From the CLI: exit 6 (partial), the pupil named on the operator's terminal.
        run_id = asyncio.run(held("held-2", 1.0))
        out = CliRunner().invoke(app, ["runs", "approve", run_id[:8], "--db", url])
        assert out.exit_code == 6, out.output
        assert f"not read in {cls}" in out.output and gone.last_name in out.output

        # A school whose minimum the shortfall meets ends done once approved.
        run_id = asyncio.run(held("held-3", 0.5))
        approved = asyncio.run(approve_run(None, store, run_id, actor="test"))
        assert approved.run.state is RunState.DONE
    finally:
        server.stop()
        store.close()
