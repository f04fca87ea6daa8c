"""A full Ruobr pull reads no period that starts after a week past today (``AHEAD``), and a page
it does not read keeps what the store holds for it."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.conformance.compare import differences, project
from connectors.ruobr import RuobrConnector
from connectors.ruobr.emulator import RuobrEmulator, create_app
from connectors.ruobr.harness import HARNESS
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials, Page, SchoolTarget
from core.model import FinalMark, Lesson
from core.store import Store
from core.sync import pull
from tests.connectors.ruobr.test_ruobr_connector import FAST, SIZE, SLUG, Counting


def _target(world: World) -> SchoolTarget:
    creds = [
        Credentials(login=g.login, password=g.password) for g in world.accounts(SLUG, "guardian")
    ]
    return SchoolTarget(
        school=SLUG,
        platform="ruobr",
        base_url="http://ruobr.test",
        credentials=creds[0],
        accounts=tuple(creds[1:]),
    )


def _connector(world: World, transport: Counting, today: date) -> RuobrConnector:
    return RuobrConnector(_target(world), transport=transport, today=today, http=FAST)


async def _pages(world: World, today: date) -> tuple[list[Page], Counting]:
    transport = Counting(create_app(world))
    async with _connector(world, transport, today) as conn:
        pages = [p async for p in conn.pull({})]
    return pages, transport


def _read(pages: list[Page]) -> list[str]:
    """The journal pages that were read (they claim their scope); the others must be empty."""
    journal = [p for p in pages if p.stream == "journal"]
    assert all(not p.records for p in journal if not p.complete_for)
    return [p.scope for p in journal if p.complete_for]


def _subjects_with_lessons(world: World, periods: list[int]) -> int:
    """(pupil, period, subject) with at least one of the pupil's lessons in the period's dates:
    the ``all_marks`` calls a full pull needs for the attendance of those periods."""
    school = world.school(SLUG)
    out = set()
    for acc in world.accounts(SLUG, "student"):
        pid = world.account(acc.login).ext_id  # type: ignore[union-attr]
        for g in world.groups_of_student(pid):
            for lid in g.lesson_ids:
                day = world.lessons[lid].day
                for p in school.periods:
                    if p.ordinal in periods and p.start <= day <= p.end:
                        out.add((pid, p.ordinal, g.subject_id))
    return len(out)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(21, SIZE)


async def test_requests_per_path_stop_at_the_horizon_and_nothing_is_lost(world: World) -> None:
    assert world.today == date(2026, 11, 7)
    pages, calls = await _pages(world, world.today)
    pupils = len(world.accounts(SLUG, "student"))
    # Quarters 1 (1 Sep) and 2 (5 Nov) have started; 3 (12 Jan) and 4 (1 Apr) are not read.
    assert _read(pages) == ["journal:5А:1", "journal:5А:2"]
    assert [p.scope for p in pages[1:]] == [f"journal:5А:{n}" for n in range(1, 5)]
    assert dict(calls.paths) == {
        "user": pupils,  # one family account per pupil
        "controlmark": pupils,
        "timetable2": pupils * 2,
        "all_marks": _subjects_with_lessons(world, [1, 2]),
    }
    # What the families see is all pulled: every lesson lies in the quarters read.
    caps = RuobrConnector.capabilities
    records = [r for p in pages for r in p.records]
    expected = project(HARNESS.expected(world, SLUG, "ruobr"), caps)
    assert differences(project(records, caps), expected) == ""


async def test_the_horizon_moves_with_today(world: World) -> None:
    # 5 January: the 3rd quarter starts within a week (12 January) and is read; the 4th is not.
    pages, calls = await _pages(world, date(2027, 1, 5))
    assert _read(pages) == ["journal:5А:1", "journal:5А:2", "journal:5А:3"]
    assert calls.paths["timetable2"] == len(world.accounts(SLUG, "student")) * 3


async def test_a_closed_period_after_the_horizon_is_still_read_for_its_finals(
    world: World,
) -> None:
    # The connector's today before the year starts, the platform's after the 1st quarter closed:
    # every page is past the horizon, but controlmark shows the 1st quarter closed with finals.
    pages, calls = await _pages(world, date(2026, 8, 20))
    assert _read(pages) == ["journal:5А:1"]
    assert any(isinstance(r, FinalMark) for r in pages[1].records)
    assert calls.paths["timetable2"] == len(world.accounts(SLUG, "student"))


async def test_before_the_year_starts_no_page_is_read_and_none_claims_anything(
    world: World,
) -> None:
    fresh = World.generate(21, SIZE, today=date(2026, 8, 10))
    pages, calls = await _pages(fresh, fresh.today)
    # The year has not started: every page is in the pass, none is read or replaces anything.
    assert [p.scope for p in pages[1:]] == [f"journal:5А:{n}" for n in range(1, 5)]
    assert _read(pages) == []
    assert calls.paths["timetable2"] == 0 and calls.paths["all_marks"] == 0


async def test_a_page_after_the_horizon_keeps_what_the_store_holds(tmp_path: Any) -> None:
    world = World.generate(21, SIZE)
    school = world.school(SLUG)
    # One lesson moved into the 3rd quarter (a Wednesday), so that page holds a record.
    moved = next(iter(world.lessons.values()))
    moved.day = date(2027, 1, 13)
    group = world.groups[moved.group_id]
    assert school.periods[2].start <= moved.day <= school.periods[2].end
    store = Store.open(f"sqlite:///{tmp_path}/ruobr.db")
    try:
        app = create_app(world)

        async def run(today: date) -> Counting:
            transport = Counting(app)
            async with _connector(world, transport, today) as conn:
                await pull(store, conn)
            return transport

        def stored_ids() -> set[str]:
            return {r.id for r in store.remote_records(SLUG, "ruobr", "lesson")}

        await run(date(2027, 1, 20))  # the 3rd quarter has started: its page is read
        kept = {
            r.id
            for r in store.remote_records(SLUG, "ruobr", "lesson")
            if isinstance(r, Lesson) and r.date == moved.day
        }
        assert len(kept) == 1
        # The platform drops the lesson; a pull on 7 November does not read the 3rd quarter,
        # so it cannot tell and must keep the stored lesson (a page not read is not empty).
        group.lesson_ids.remove(moved.ext_id)
        calls = await run(world.today)
        assert calls.paths["timetable2"] == len(world.accounts(SLUG, "student")) * 2
        assert kept <= stored_ids()
        # Once the quarter is read again, its page sees the lesson gone.
        await run(date(2027, 1, 20))
        assert not kept & stored_ids()
        # A full pass early in the year after one late in it (or a new year's September after
        # May) has as many pages: the engine's check of a full pass's size does not refuse it.
        calls = await run(date(2026, 9, 10))
        assert calls.paths["timetable2"] == len(world.accounts(SLUG, "student"))
        journal = store.cursors(SLUG, "ruobr")["journal"]
        assert journal["complete"] and journal["scopes_full"] == 4
    finally:
        store.close()


# --- read-ahead: the next class is read while a page is assembled and stored --------------------

TWO = WorldSize(grades=(5,), letters=2, students_per_class=3, weeks=2)


class Delaying(Counting):
    """Records which class each diary request is for; delays the first class's answers."""

    def __init__(self, app: RuobrEmulator, world: World, slow: str, delay: float) -> None:
        super().__init__(app)
        self.class_of = {
            p.ext_id: world.classes[p.class_id].name
            for p in world.persons.values()
            if p.class_id is not None
        }
        self.slow, self.delay = slow, delay
        self.classes: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        child = request.url.params.get("child")
        if child and request.url.path.startswith("/timetable2/"):
            name = self.class_of[int(child)]
            self.classes.append(name)
            if name == self.slow:
                await asyncio.sleep(self.delay)
        return await super().handle_async_request(request)


async def test_the_next_class_is_read_while_a_page_is_handed_over() -> None:
    world = World.generate(3, TWO)
    transport = Delaying(create_app(world), world, slow="", delay=0)
    async with _connector(world, transport, world.today) as conn:
        async for page in conn.pull({}):
            if page.scope == "journal:5А:1":
                # Without read-ahead nothing of 5Б is asked before 5А's page is taken.
                assert "5Б" in transport.classes
                break
        else:
            raise AssertionError("no page of 5А")


async def test_pages_are_assembled_in_order_when_a_later_read_finishes_first() -> None:
    world = World.generate(3, TWO)
    # 5А's diaries answer late: 5Б's page is read first, but 5А's is still assembled first.
    transport = Delaying(create_app(world), world, slow="5А", delay=0.05)
    async with _connector(world, transport, world.today) as conn:
        pages = [p async for p in conn.pull({})]
    assert _read(pages) == ["journal:5А:1", "journal:5Б:1"]
    journal = [p for p in pages if p.complete_for and p.stream == "journal"]
    teachers = [{le.teacher_id for le in p.records if isinstance(le, Lesson)} for p in journal]
    assert teachers[0] & teachers[1], "the two classes share a teacher"
    carried: set[str] = {r.id for r in pages[0].records}
    for page in journal:
        carried |= {r.id for r in page.records if r.ENTITY in ("person", "group", "subject")}
        # Every teacher and group a page's lessons name is carried by it or a page before it.
        for le in (r for r in page.records if isinstance(r, Lesson)):
            assert le.group_id in carried and le.teacher_id in carried
