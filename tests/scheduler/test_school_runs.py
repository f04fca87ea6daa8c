"""Slots of one school in the same minute, on platforms that rotate their tokens, and the
first pull of a fresh store — through the embedded runner over loopback emulators."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.sandbox import WorldSize
from core.connector import Page, PullMode
from core.store import SchoolLock, Store
from core.sync._first_pull import first_pull_mode
from journalsync.config import parse_config
from scheduler import EmbeddedScheduler, Outcome, Plan, Runner
from scheduler.sandbox import SandboxMunicipality, sandbox_municipality

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)
ROTATING = ["kiasuo", "perm"]
PLATFORM = "kiasuo"


@pytest.fixture
def rotating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxMunicipality]:
    with sandbox_municipality(
        2, store_url=f"sqlite:///{tmp_path / 'm.db'}", platforms=ROTATING
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        yield m


def _plan(m: SandboxMunicipality) -> Plan:
    # The schedule of the incident: a pull every 2 minutes, a push every 3, at any hour.
    text = m.config_text.replace(
        '[schedules]\npull = { cron = "*/30 8-17 * * 1-6", window = "school_hours" }\n'
        'push = { cron = "30 19 * * 1-6", window = "outside_school_hours" }\n',
        '[schedules]\npull = { cron = "*/2 * * * *", window = "any" }\n'
        'push = { cron = "*/3 * * * *", window = "any" }\n',
    )
    assert text != m.config_text
    return parse_config(text, "m.toml", platforms=sorted({p for p, _, _ in m.schools.values()}))


def test_pull_and_push_in_the_same_minute_share_no_rotating_token(
    rotating: SandboxMunicipality,
) -> None:
    plan = _plan(rotating)
    assert sorted(s.platform for s in plan.schools) == ROTATING
    store = Store.open(plan.store_url)
    scheduler = EmbeddedScheduler(plan, store, Runner(plan, store, lock_wait=120))

    async def same_minute(now: datetime) -> list[Outcome]:
        # Both jobs fire in this minute (6 is a multiple of 2 and of 3), as APScheduler would.
        jobs = [
            scheduler.fire(school.slug, op, now)
            for school in plan.schools
            for op in ("pull", "push")
        ]
        return list(await asyncio.gather(*jobs))

    try:
        for k in range(3):  # the tokens keep rotating, slot after slot
            out = asyncio.run(same_minute(SLOT + timedelta(minutes=6 * k, seconds=1)))
            assert [(o.school, o.operation, o.state, o.reason) for o in out] == [
                (o.school, o.operation, "done", "") for o in out
            ]
            assert all(o.counts["records"] > 0 for o in out)
    finally:
        store.close()


def test_a_run_that_waits_too_long_for_its_school_is_skipped_naming_it(
    rotating: SandboxMunicipality,
) -> None:
    plan = _plan(rotating)
    school = plan.schools[0]
    store = Store.open(plan.store_url)
    try:
        with SchoolLock(store, school.slug):  # e.g. a `journalsync push` by hand
            out = asyncio.run(Runner(plan, store, lock_wait=0.5).run_school(school, "pull", SLOT))
        assert out.state == "skipped"
        assert f"school {school.slug}: another journalsync run" in out.reason
        assert store.runs() == [], "nothing ran, nothing was recorded as run"
        # The lock released, the same slot runs.
        again = asyncio.run(Runner(plan, store).run_school(school, "pull", SLOT))
        assert again.state == "done"
    finally:
        store.close()


def _by_entity(store: Store, school: str, platform: str) -> Counter[str]:
    return Counter(r.ENTITY for r in store.remote_records(school, platform))


def test_a_fresh_stores_first_scheduled_pull_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # КИАСУО reads the last week incrementally: the six weeks of journal lie beyond it.
    size = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=6)
    with sandbox_municipality(
        1, store_url=f"sqlite:///{tmp_path / 'a.db'}", platforms=[PLATFORM], size=size
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        plan = parse_config(m.config_text, "m.toml", platforms=[PLATFORM])
        (school,) = plan.schools
        store = Store.open(plan.store_url)
        runner = Runner(plan, store)

        def slot(op: str, at: datetime) -> Outcome:
            (out,) = asyncio.run(runner.run_cycle(op, at, scheduled=False))
            assert out.state == "done", out.reason
            return out

        try:
            # An incremental pull slot is the first thing that runs on this store.
            first = slot("pull", SLOT)
            got = _by_entity(store, school.slug, PLATFORM)
            assert got["mark"] > 0 and got["lesson"] > 0
            # A full pull (the weekly reconcile slot) finds nothing the first pull missed.
            full = slot("reconcile", SLOT + timedelta(hours=1))
            assert full.counts["records"] == first.counts["records"]
            assert (full.counts["inserted"], full.counts["deleted"]) == (0, 0)
            assert _by_entity(store, school.slug, PLATFORM) == got
            # Later pull slots are incremental again: the cursors are there now.
            later = slot("pull", SLOT + timedelta(hours=2))
            assert later.counts["records"] < first.counts["records"]
        finally:
            store.close()


@pytest.mark.parametrize(
    ("journal_cursor", "mode"),
    [
        (None, PullMode.FULL),  # nothing stored for the school: its first pull
        ({"pass": 1, "done": ["w1"], "complete": False}, PullMode.FULL),  # that pull, cut short
        ({"pass": 1, "done": ["w1"], "complete": True}, PullMode.INCREMENTAL),
        ({"pass": 2, "done": ["w1"], "complete": False}, PullMode.INCREMENTAL),
    ],
)
def test_first_pull_mode(
    store: Store, journal_cursor: dict[str, object] | None, mode: PullMode
) -> None:
    if journal_cursor is not None:
        store.commit_page(
            "s", "kiasuo", Page(stream="journal", scope="w1", records=[], cursor=journal_cursor)
        )
        store.commit_page(
            "s",
            "kiasuo",
            Page(
                stream="roster",
                scope="roster",
                records=[],
                cursor={"pass": 1, "done": ["roster"], "complete": True},
            ),
        )
    assert first_pull_mode(store, "s", "kiasuo", PullMode.INCREMENTAL) is mode
    assert first_pull_mode(store, "s", "kiasuo", PullMode.FULL) is PullMode.FULL
    assert first_pull_mode(store, "other", "kiasuo", PullMode.INCREMENTAL) is PullMode.FULL
