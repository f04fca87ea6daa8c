"""A pull never destroys what it cannot explain (DESIGN.md §4), on SQLite and PostgreSQL.

The NetSchool emulator answers in-process; a rewriting transport in front of it plays the
world's surprises: a renamed field, a journal answered empty, subject groups cut short.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.netschool.harness import HARNESS
from connectors.sandbox import World, WorldSize
from connectors.sandbox.faults import Faults
from core.connector import PullMode
from core.store import RunState, Store, run_id_for
from core.sync import Limit, PullLimits, continue_held, pull, sync_school
from journalsync.config import parse_config
from scheduler import Runner, approve_run, discard_run
from scheduler.sandbox import sandbox_municipality

P = "netschool"
BASE = "http://emulator.test"
SIZE = WorldSize(grades=(5, 6, 7), letters=1, students_per_class=6, weeks=2)
JOURNAL = "/webapi/grade/journal"

Rewrite = Callable[[str, bytes], bytes | None]


class Rewriting(httpx.AsyncBaseTransport):
    """Passes requests to the emulator; ``rewrite(path, body)`` may answer another body."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.rewrite: Rewrite | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.rewrite is None:
            return response
        body = await response.aread()
        new = self.rewrite(f"{request.url.path}?{request.url.query.decode()}", body)
        if new is None:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=new)


def rename_mark(path: str, body: bytes) -> bytes | None:
    """A platform release that renamed ``results[].mark`` to ``markValue``."""
    return body.replace(b'"mark":', b'"markValue":') if path.startswith(JOURNAL + "?") else None


def no_results(path: str, body: bytes) -> bytes | None:
    """The journal answered without a single mark."""
    if not path.startswith(JOURNAL + "?"):
        return None
    return re.sub(rb'"results":\[[^\]]*\]', b'"results":[]', body)


class World1:
    def __init__(self, seed: int = 41) -> None:
        self.world = World.generate(seed, SIZE)
        self.faults = Faults()
        self.app = create_app(self.world, faults=self.faults)
        self.transport = Rewriting(httpx.ASGITransport(app=self.app))
        self.school = next(iter(self.world.schools))

    def connector(self) -> NetSchoolConnector:
        target = HARNESS.target(self.world, BASE, self.school, True)
        return NetSchoolConnector(target, transport=self.transport, today=self.world.today)

    async def run(self, store: Store, key: str, mode: PullMode = PullMode.FULL) -> object:
        async with self.connector() as c:
            return await sync_school(
                store, c, run_key=key, operation="pull", mode=mode, do_push=False
            )


@pytest.fixture
def w() -> World1:
    return World1()


def marks(store: Store, school: str) -> dict[str, str]:
    return {r.id: r.content_hash for r in store.remote_records(school, P, "mark")}


async def test_a_renamed_field_holds_the_pull_and_the_next_pull_goes_on(
    store: Store, w: World1
) -> None:
    await w.run(store, "first")
    before = store.content_digest()
    live = marks(store, w.school)
    assert len(live) > 50

    w.transport.rewrite = rename_mark
    report = await w.run(store, "renamed")
    run = report.run  # type: ignore[attr-defined]
    assert run.state is RunState.HELD
    note = store.transitions(run.id)[-1].note
    assert note.startswith("pull held: mark:") and "no longer readable" in note
    assert f"{len(live):,} no longer readable" in note  # every mark, none deleted
    assert store.content_digest() == before, "a held pull applies nothing"
    assert store.staged_count(run.id) > 0
    assert store.quarantined(w.school, P) == []  # the quarantine waits with its pages

    w.transport.rewrite = None
    after = await w.run(store, "normal again")
    assert after.run.state is RunState.DONE  # type: ignore[attr-defined]
    assert store.content_digest() == before
    assert store.staged_count(run.id) == 0
    closed = store.get_run(run.id)
    assert closed.state is RunState.DONE
    assert "superseded" in store.transitions(run.id)[-1].note


async def test_five_malformed_records_keep_their_last_good_version_marked_stale(
    store: Store, w: World1
) -> None:
    await w.run(store, "first")
    live = marks(store, w.school)

    w.faults.malformed = 5
    report = await w.run(store, "malformed")
    assert report.run.state is RunState.DONE  # type: ignore[attr-defined]
    assert len(w.faults.corrupted) == 5
    assert len(store.quarantined(w.school, P)) == 5
    assert store.stale_counts(w.school, P) == {"mark": 5}
    assert marks(store, w.school) == live, "the five keep their last good version, live"
    assert report.pulled.deleted == 0  # type: ignore[attr-defined]

    await w.run(store, "clean again")
    assert store.stale_counts(w.school, P) == {}
    assert marks(store, w.school) == live


async def test_approving_a_held_pull_applies_exactly_what_it_read(store: Store, w: World1) -> None:
    await w.run(store, "first")
    n = len(marks(store, w.school))
    w.transport.rewrite = no_results
    report = await w.run(store, "no marks")
    run = report.run  # type: ignore[attr-defined]
    assert run.state is RunState.HELD
    assert (
        f"mark: {n:,} of {n:,} live records would be deleted" in store.transitions(run.id)[-1].note
    )
    assert marks(store, w.school)

    approved = await continue_held(store, None, run_id=run.id, note="approved by test")
    assert approved.run.state is RunState.DONE
    assert approved.pulled is not None and approved.pulled.deleted == n
    assert marks(store, w.school) == {}
    assert store.staged_count(run.id) == 0
    with pytest.raises(ValueError):  # exactly once
        await continue_held(store, None, run_id=run.id)


async def test_discarding_a_held_pull_keeps_the_snapshot_and_rereads_its_streams(
    store: Store, w: World1
) -> None:
    await w.run(store, "first")
    before = store.content_digest()
    w.transport.rewrite = no_results
    run = (await w.run(store, "no marks")).run  # type: ignore[attr-defined]
    assert run.state is RunState.HELD

    discard_run(store, run.id, actor="test")
    assert store.get_run(run.id).state is RunState.DONE
    assert store.staged_count(run.id) == 0
    assert store.content_digest() == before
    assert "journal" not in store.cursors(w.school, P), "the next pull reads it again"


async def test_a_configured_limit_holds_even_one_delete_and_a_clean_read_supersedes_it(
    store: Store, w: World1
) -> None:
    await w.run(store, "first")
    one = next(iter(marks(store, w.school)))
    w.transport.rewrite = None
    limits = {"mark": PullLimits(deletes=Limit(0))}  # not even one delete
    gone = {"n": 0}

    def drop_first_result(path: str, body: bytes) -> bytes | None:
        if not path.startswith(JOURNAL + "?") or gone["n"]:
            return None
        new, count = re.subn(rb'\{"studentId":\d+,"mark":\d,"duty":false\},?', b"", body, count=1)
        gone["n"] += count
        return new

    w.transport.rewrite = drop_first_result
    async with w.connector() as c:
        held = await pull(store, c, limits=limits)
    assert gone["n"] == 1 and held.held.startswith("mark: 1 of")
    assert one in marks(store, w.school)
    w.transport.rewrite = None
    async with w.connector() as c:
        clean = await pull(store, c)  # supersedes what the held pull staged of that scope
    assert clean.held == "" and store.has_staged(w.school, P) is False


async def test_a_full_pass_that_finds_nothing_fails_and_is_not_complete(
    store: Store, w: World1
) -> None:
    w.transport.rewrite = (
        lambda path, body: b"[]" if path.startswith("/webapi/subjectgroups?") else None
    )
    report = await w.run(store, "empty")
    run = report.run  # type: ignore[attr-defined]
    assert run.state is RunState.FAILED
    assert "found nothing to read in stream 'journal'" in (run.error or "")
    assert "journal" not in store.cursors(w.school, P)


async def test_a_full_pass_far_smaller_than_the_last_fails(store: Store, w: World1) -> None:
    await w.run(store, "first")
    full = store.cursors(w.school, P)["journal"]["scopes_full"]
    first_class: list[str] = []

    def one_class(path: str, body: bytes) -> bytes | None:
        if not path.startswith("/webapi/subjectgroups?"):
            return None
        if not first_class:
            first_class.append(path)
        return None if path == first_class[0] else b"[]"

    w.transport.rewrite = one_class
    report = await w.run(store, "partial")
    run = report.run  # type: ignore[attr-defined]
    assert run.state is RunState.FAILED
    assert f"where the last full pull found {full}" in (run.error or "")
    assert store.cursors(w.school, P)["journal"]["complete"] is True  # the last good pass
    assert store.cursors(w.school, P)["journal"]["scopes_full"] == full


def test_the_scheduler_holds_a_pull_and_approve_applies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the embedded runner (the Temporal activity runs the same ``Runner``): a pull slot
    that would delete every mark of a family-account school ends held with its reason, the
    next slot is not blocked by it, and `runs approve` applies exactly that pull."""
    slot = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)
    with sandbox_municipality(
        1, store_url=f"sqlite:///{tmp_path / 'm.db'}", platforms=["perm"]
    ) as m:
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        plan = parse_config(m.config_text, "m.toml", platforms=["perm"])
        school = plan.schools[0]
        store = Store.open(plan.store_url)
        try:
            runner = Runner(plan, store)
            first = asyncio.run(runner.run_school(school, "reconcile", slot, scheduled=False))
            assert first.state == "done", first.reason
            before = store.content_digest()
            n = store.remote_counts(school.slug, "perm")["mark"]

            world, slug = m.world_of(school.slug)
            for le in [
                le for le in world.lessons.values() if world.groups[le.group_id].school == slug
            ]:
                for a in world.lesson_assignments(le):
                    for student in sorted(a.marks):
                        world.delete_mark(a.ext_id, student)

            held = asyncio.run(
                runner.run_school(school, "reconcile", slot + timedelta(hours=1), scheduled=False)
            )
            assert held.state == "held"
            assert (
                held.reason
                == f"pull held: mark: {n:,} of {n:,} live records would be deleted (limit 20 %)"
            )
            assert store.content_digest() == before

            # A held pull does not stop the school's next slot (it may supersede it).
            again = asyncio.run(
                runner.run_school(school, "reconcile", slot + timedelta(hours=2), scheduled=False)
            )
            assert again.state == "held", again.reason

            report = asyncio.run(approve_run(plan, store, again.run_key, actor="test"))
            assert report.run.state is RunState.DONE
            assert store.remote_counts(school.slug, "perm").get("mark", 0) == 0
            older = store.get_run(run_id_for(held.run_key))
            assert older.state is RunState.DONE  # superseded by the later read
        finally:
            store.close()
