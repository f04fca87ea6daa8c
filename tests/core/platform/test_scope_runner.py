"""The scope runner (``core.platform.run_pass``): pass bookkeeping, resumption, closing pages,
reading units, family-account visibility, sampling and bounded read-ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from core import platform
from core.connector import Page, PullMode
from core.model import Group, Lesson, Record
from journalsync.sandbox_cmd import emulator_factory

SCHOOL = "s1"


def _lesson(scope: str) -> Lesson:
    """A lesson only ``scope`` holds (its group id is the scope's name)."""
    return Lesson(school=SCHOOL, group_id=scope, date=date(2026, 9, 1), number=1)


def _group(subject: str, *members: str) -> Group:
    return Group(school=SCHOOL, class_id="5A", subject_id=subject, member_ids=members)


def _batch(*records: Record) -> platform.Batch:
    return platform.Batch(records=list(records))


async def _pages(scopes: platform.Scopes[Any], cursor: Any = None, **kw: Any) -> list[Page]:
    return [p async for p in platform.run_pass(scopes, cursor, **kw)]


def _each(keys: Sequence[str], log: list[str] | None = None) -> platform.Scopes[str]:
    async def read(key: str) -> platform.Batch:
        if log is not None:
            log.append(key)
        return _batch(_lesson(key))

    return platform.Scopes(
        platform.JOURNAL, platform.JOURNAL_ENTITIES, list(keys), key=str, read=read
    )


async def test_a_pass_yields_a_page_per_scope_and_completes_on_the_last() -> None:
    pages = await _pages(_each(["j:1", "j:2", "j:3"]))
    assert [p.scope for p in pages] == ["j:1", "j:2", "j:3"]
    assert [p.cursor for p in pages] == [
        {"pass": 1, "done": ["j:1"], "complete": False},
        {"pass": 1, "done": ["j:1", "j:2"], "complete": False},
        {"pass": 1, "done": ["j:1", "j:2", "j:3"], "complete": True},
    ]
    assert all(p.complete_for == platform.JOURNAL_ENTITIES for p in pages)
    assert all(p.visible_members is None for p in pages)
    assert [p.records[0].id for p in pages] == [_lesson(k).id for k in ("j:1", "j:2", "j:3")]
    # the next pull starts the next pass over every scope
    again = await _pages(_each(["j:1", "j:2", "j:3"]), pages[-1].cursor)
    assert [p.cursor["pass"] for p in again] == [2, 2, 2]


async def test_a_stopped_pass_resumes_where_its_cursor_stopped_reading_nothing_twice() -> None:
    keys = ["j:1", "j:2", "j:3", "j:4"]
    first: list[Page] = []
    read: list[str] = []
    async for page in platform.run_pass(_each(keys, read), {"pass": 6, "complete": True}):
        first.append(page)
        if len(first) == 2:
            break  # the pull stops here; the engine committed these two pages
    resumed = await _pages(_each(keys, read), first[-1].cursor)
    assert [p.scope for p in resumed] == ["j:3", "j:4"]
    assert read == keys  # each scope read once across both pulls
    assert resumed[-1].cursor == {"pass": 7, "done": keys, "complete": True}


async def test_a_resumed_pass_with_nothing_left_is_closed_by_an_empty_page() -> None:
    scopes = _each(["j:1"])
    scopes.extra = {"watermark": "2026-09-01T00:00:00"}
    pages = await _pages(scopes, {"pass": 3, "done": ["j:1"], "complete": False})
    assert len(pages) == 1
    (page,) = pages
    assert (page.stream, page.scope, page.records) == ("journal", "journal:pass:3", [])
    assert page.cursor == {
        "pass": 3,
        "done": ["j:1"],
        "complete": True,
        "watermark": "2026-09-01T00:00:00",
    }
    # a stream with no scopes at all is closed the same way (the engine judges an empty pass)
    assert [p.cursor for p in await _pages(_each([]))] == [
        {"pass": 1, "done": [], "complete": True}
    ]


async def test_extra_cursor_keys_ride_on_every_page() -> None:
    scopes = _each(["j:1", "j:2"])
    scopes.extra = {"since": None, "watermark": "w"}
    pages = await _pages(scopes)
    assert [list(p.cursor) for p in pages] == [
        ["pass", "done", "complete", "since", "watermark"]
    ] * 2


async def test_a_unit_is_read_once_for_its_pending_scopes_only() -> None:
    scopes = [(cls, week) for cls in ("5A", "5B") for week in (1, 2, 3)]
    calls: list[list[str]] = []

    async def read_class(pending: Sequence[tuple[str, int]]) -> list[platform.Batch]:
        calls.append([f"{c}:{w}" for c, w in pending])
        return [_batch(_lesson(f"{c}:{w}")) for c, w in pending]

    stream = platform.Scopes(
        platform.JOURNAL,
        platform.JOURNAL_ENTITIES,
        scopes,
        key=lambda cw: f"journal:{cw[0]}:{cw[1]}",
        read_unit=read_class,
        unit=lambda cw: cw[0],
    )
    cursor = {"pass": 1, "done": ["journal:5A:1", "journal:5A:2"], "complete": False}
    pages = await _pages(stream, cursor)
    assert calls == [["5A:3"], ["5B:1", "5B:2", "5B:3"]]
    assert [p.scope for p in pages] == [
        "journal:5A:3",
        "journal:5B:1",
        "journal:5B:2",
        "journal:5B:3",
    ]
    assert [p.cursor["complete"] for p in pages] == [False, False, False, True]
    assert pages[-1].cursor["done"] == [f"journal:{c}:{w}" for c, w in scopes]


async def test_a_unit_read_that_returns_the_wrong_number_of_batches_is_an_error() -> None:
    async def short(pending: Sequence[str]) -> list[platform.Batch]:
        return [platform.Batch()]

    stream = platform.Scopes(
        "journal", frozenset(), ["a", "b"], key=str, read_unit=short, unit=lambda _: 0
    )
    with pytest.raises(RuntimeError, match="read 1 batches for 2 scopes"):
        await _pages(stream)


def test_a_stream_says_how_to_read_exactly_once() -> None:
    async def read(key: str) -> platform.Batch:
        return platform.Batch()

    async def read_unit(keys: Sequence[str]) -> list[platform.Batch]:
        return []

    with pytest.raises(TypeError, match="either read or read_unit"):
        platform.Scopes("journal", frozenset(), [], key=str)
    with pytest.raises(TypeError, match="either read or read_unit"):
        platform.Scopes("journal", frozenset(), [], key=str, read=read, read_unit=read_unit)
    with pytest.raises(TypeError, match="read_unit needs unit"):
        platform.Scopes("journal", frozenset(), [], key=str, read_unit=read_unit)
    with pytest.raises(ValueError, match="read_ahead"):
        platform.Scopes("journal", frozenset(), [], key=str, read=read, read_ahead=0)


async def test_family_pages_see_the_rosters_groups_and_those_read_so_far() -> None:
    roster = _batch(_group("A", "p1", "p2"))
    visible = platform.visible_members(roster.records)
    (roster_page,) = await _pages(
        platform.one_page(platform.ROSTER, roster, platform.ROSTER_ENTITIES, visible)
    )
    assert roster_page.scope == "roster"
    assert roster_page.cursor == {"pass": 1, "done": ["roster"], "complete": True}
    assert roster_page.visible_members == {_group("A").id: frozenset({"p1", "p2"})}

    later = {"j:1": _batch(_lesson("j:1")), "j:2": _batch(_group("B", "p3"), _lesson("j:2"))}

    async def read(key: str) -> platform.Batch:
        return later[key]

    journal = platform.Scopes("journal", frozenset(), list(later), key=str, read=read)
    journal.visible = visible
    pages = await _pages(journal)
    assert pages[0].visible_members == {_group("A").id: frozenset({"p1", "p2"})}
    assert pages[1].visible_members == {
        _group("A").id: frozenset({"p1", "p2"}),
        _group("B").id: frozenset({"p3"}),
    }
    assert visible == {_group("A").id: frozenset({"p1", "p2"})}  # the roster's stays as it was


async def test_sampling_chooses_among_the_pending_scopes_with_the_streams_preference() -> None:
    seen: list[tuple[list[str], Callable[[str], Any] | None]] = []

    def sample(scopes: Sequence[Any], prefer: Callable[[Any], Any] | None = None) -> Sequence[Any]:
        seen.append((list(scopes), prefer))
        return sorted(scopes, key=prefer)[:2] if prefer else scopes

    stream = _each(["j:1", "j:2", "j:3", "j:4"])
    stream.prefer = lambda k: -int(k[2:])
    pages = await _pages(stream, {"pass": 1, "done": ["j:4"], "complete": False}, sample=sample)
    assert seen[0][0] == ["j:1", "j:2", "j:3"]
    assert [p.scope for p in pages] == ["j:3", "j:2"]
    assert pages[-1].cursor == {"pass": 1, "done": ["j:4", "j:3", "j:2"], "complete": True}


async def test_run_streams_runs_each_stream_from_its_own_cursor() -> None:
    roster = platform.one_page("roster", platform.Batch(), platform.ROSTER_ENTITIES)
    cursors = {"journal": {"pass": 2, "done": ["j:1"], "complete": False}}
    pages = [p async for p in platform.run_streams(cursors, roster, _each(["j:1", "j:2"]))]
    assert [(p.stream, p.scope, p.cursor["pass"]) for p in pages] == [
        ("roster", "roster", 1),
        ("journal", "j:2", 2),
    ]


async def test_read_ahead_reads_units_at_once_within_its_bound_and_yields_them_in_order() -> None:
    running = 0
    most = 0
    delays = {"a": 0.05, "b": 0.01, "c": 0.03, "d": 0.0, "e": 0.02}

    async def read(key: str) -> platform.Batch:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(delays[key])
        running -= 1
        return _batch(_lesson(key))

    stream = platform.Scopes("journal", frozenset(), list(delays), key=str, read=read)
    stream.read_ahead = 3
    pages = await _pages(stream)
    assert [p.scope for p in pages] == list(delays)
    assert [p.records[0].id for p in pages] == [_lesson(k).id for k in delays]
    assert [p.cursor["done"] for p in pages] == [list(delays)[: n + 1] for n in range(5)]
    assert most == 3


async def test_an_abandoned_pull_leaves_no_read_running() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def read(key: str) -> platform.Batch:
        started.append(key)
        try:
            await asyncio.sleep(0 if key == "a" else 10)
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        return platform.Batch()

    stream = platform.Scopes("journal", frozenset(), ["a", "b", "c", "d"], key=str, read=read)
    stream.read_ahead = 3
    pages = platform.run_pass(stream, None)
    first = await anext(pages)
    assert first.scope == "a"
    await pages.aclose()
    assert sorted(cancelled) == ["b", "c"]
    assert started == ["a", "b", "c"]  # "d" was never started: the bound held


async def test_a_failed_read_ends_the_pass_and_cancels_the_reads_in_flight() -> None:
    cancelled: list[str] = []

    async def read(key: str) -> platform.Batch:
        if key == "a":
            raise ConnectionError("gone")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(key)
            raise
        return platform.Batch()

    stream = platform.Scopes("journal", frozenset(), ["a", "b", "c"], key=str, read=read)
    stream.read_ahead = 2
    with pytest.raises(ConnectionError):
        await _pages(stream)
    assert cancelled == ["b"]


# --- every connector's pull goes through the runner --------------------------------------------

QUICK = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=1)


@pytest.mark.parametrize("harness", harnesses(), ids=lambda h: h.platform)
async def test_every_connector_pulls_one_pass_per_stream(harness: Harness) -> None:
    """Each stream is one pass: every page's cursor holds the scopes of the pages before it, the
    last is complete; family-account platforms' pages carry what the accounts see (so a pass
    keeps what they no longer see), a whole-school platform's journal pages do not."""
    world = World.generate(2026, QUICK)
    school = next(iter(world.schools.values()))
    target = harness.target(world, "http://emulator.test", school.slug, True)
    transport = httpx.ASGITransport(app=emulator_factory(harness.platform)(world))
    async with harness.connect(world, target, transport=transport) as connector:
        await connector.login()
        pages = [p async for p in connector.pull({}, PullMode.FULL)]
    by_stream: dict[str, list[Page]] = {}
    for page in pages:
        by_stream.setdefault(page.stream, []).append(page)
    assert set(by_stream) >= {platform.ROSTER, platform.JOURNAL}
    family = bool(connector.capabilities.partial_view)
    for stream, of_stream in by_stream.items():
        keys = [p.scope for p in of_stream]
        assert len(set(keys)) == len(keys), stream
        for n, page in enumerate(of_stream):
            assert page.cursor["done"] == keys[: n + 1]
            assert page.cursor["complete"] is (n == len(of_stream) - 1)
            assert page.cursor["pass"] == 1
        if stream == platform.JOURNAL:
            assert all((p.visible_members is not None) is family for p in of_stream), stream
    roster_groups = {r.id for r in by_stream[platform.ROSTER][0].records if r.ENTITY == "group"}
    if family:
        assert roster_groups <= set(by_stream[platform.JOURNAL][-1].visible_members or {})
