"""Coverage on every family-account platform, against its emulator over real HTTP: a pull
through every account reads every pupil and ends done; without the accounts of one pupil it ends
partial, names that pupil for the operator only, and keeps the pupil's records."""

from __future__ import annotations

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
