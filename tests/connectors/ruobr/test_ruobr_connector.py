"""RuobrConnector against the Ruobr emulator, in-process over ``httpx.ASGITransport``."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.conformance.compare import differences, project
from connectors.ruobr import RuobrConnector
from connectors.ruobr.emulator import RuobrEmulator, RuobrEmulatorOptions, create_app
from connectors.ruobr.harness import HARNESS
from connectors.sandbox.faults import Faults
from connectors.sandbox.world import World, WorldSize
from core.codes import Role
from core.connector import Credentials, Page, PullMode, PushChannel, SchoolTarget
from core.errors import AuthError, UnsupportedOperation
from core.http import HttpSettings
from core.model import FinalMark, Homework, Lesson, Person, Record

SLUG = "school-1"
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)
#: Nine weeks: the first quarter is closed (final marks), the second one is running.
# 10 calendar weeks from the week of 1 September (31 August 2026): today Sat 7 November, in the
# 2nd quarter a week after the 1st ended
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=10)


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, app: RuobrEmulator) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path.split("/")[1]] += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="module")
def big_world() -> World:
    return World.generate(21, SIZE)


def _target(world: World, *, bad_index: int | None = None, **options: Any) -> SchoolTarget:
    creds = [
        Credentials(login=g.login, password=g.password + ("x" if i == bad_index else ""))
        for i, g in enumerate(world.accounts(SLUG, "guardian"))
    ]
    return SchoolTarget(
        school=SLUG,
        platform="ruobr",
        base_url="http://ruobr.test",
        credentials=creds[0],
        accounts=tuple(creds[1:]),
        options=options,
    )


async def _pull(
    world: World,
    app: RuobrEmulator | None = None,
    mode: PullMode = PullMode.FULL,
    cursors: dict[str, Any] | None = None,
    today: date | None = None,
    **options: Any,
) -> tuple[list[Page], Counting]:
    transport = Counting(app or create_app(world))
    async with RuobrConnector(
        _target(world, **options), transport=transport, today=today or world.today, http=FAST
    ) as conn:
        await conn.login()
        pages = [p async for p in conn.pull(cursors or {}, mode)]
    return pages, transport


def _records(pages: list[Page]) -> list[Record]:
    return [r for p in pages for r in p.records]


async def test_full_pull_equals_what_the_families_see_including_finals(big_world: World) -> None:
    pages, _ = await _pull(big_world)
    assert all(not p.quarantine for p in pages)
    caps = RuobrConnector.capabilities
    expected = project(HARNESS.expected(big_world, SLUG, "ruobr"), caps)
    assert differences(project(_records(pages), caps), expected) == ""
    finals = [r for r in _records(pages) if isinstance(r, FinalMark)]
    assert finals, "the closed first quarter has final marks"
    # Only closed periods: the running quarter's averages are not final marks.
    assert {f.period_id for f in finals} == {
        r.id
        for r in _records(pages)
        if r.ENTITY == "period" and r.ordinal == 1  # type: ignore[attr-defined]
    }
    assert not any(isinstance(r, Person) and Role.GUARDIAN in r.roles for r in _records(pages))


async def test_lessons_shared_by_classmates_are_one_record_and_carried_once(
    big_world: World,
) -> None:
    pages, calls = await _pull(big_world)
    lessons = [r for r in _records(pages) if isinstance(r, Lesson)]
    assert len(lessons) == len({le.id for le in lessons}) == len(big_world.lessons)
    once = Counter(r.id for r in _records(pages) if r.ENTITY in ("group", "person", "subject"))
    assert set(once.values()) == {1}
    # One diary call per pupil and period started by a week past today (the 1st and 2nd
    # quarters: the 3rd and 4th have not started); no lesson was fetched twice for a classmate.
    pupils = len(big_world.accounts(SLUG, "student"))
    assert calls.paths["timetable2"] == pupils * 2


async def test_journal_pages_claim_completeness_only_for_what_they_carry(big_world: World) -> None:
    pages, _ = await _pull(big_world)
    roster, *journal = pages
    assert roster.scope == "roster" and "group" not in roster.complete_for
    assert [p.scope for p in journal] == [f"journal:5А:{n}" for n in range(1, 5)]
    # The quarters started by a week past today are read; the 3rd and 4th are not: their pages
    # carry nothing and claim nothing (what the store holds for them is kept).
    for p in journal[:2]:
        assert p.complete_for == {"lesson", "homework", "mark", "attendance", "final_mark"}
    for p in journal[2:]:
        assert p.records == [] and p.complete_for == frozenset()


async def test_incremental_pull_reads_only_periods_around_today(big_world: World) -> None:
    pages, calls = await _pull(big_world, mode=PullMode.INCREMENTAL)
    # today is in the second quarter, a week after the first one ended: both are in the window.
    assert [p.scope for p in pages[1:]] == ["journal:5А:1", "journal:5А:2"]
    pages, calls = await _pull(big_world, mode=PullMode.INCREMENTAL, today=date(2026, 12, 1))
    assert [p.scope for p in pages[1:]] == ["journal:5А:2"]
    assert calls.paths["timetable2"] == len(big_world.accounts(SLUG, "student"))


async def test_attendance_can_be_switched_off(big_world: World) -> None:
    pages, calls = await _pull(big_world, attendance=False)
    assert calls.paths["all_marks"] == 0
    assert not any(r.ENTITY == "attendance" for r in _records(pages))
    assert all("attendance" not in p.complete_for for p in pages)


async def test_malformed_mark_is_quarantined_without_personal_data() -> None:
    world = World.generate(4, WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1))
    app = create_app(world, faults=Faults(malformed=1))
    pages, _ = await _pull(world, app)
    quarantined = [q for p in pages for q in p.quarantine]
    assert len(quarantined) == 1
    q = quarantined[0]
    assert (q.entity, q.field) == ("mark", "question_id")
    assert q.record.startswith("lesson:") and "/child:" in q.record
    names = {n for p in world.persons.values() for n in (p.last_name, p.first_name)}
    assert not any(n in q.reason or n in q.record for n in names)
    # The rest of the page is kept.
    expected = project(HARNESS.expected(world, SLUG, "ruobr"), RuobrConnector.capabilities)
    actual = project(_records(pages), RuobrConnector.capabilities)
    assert len(expected) - len(actual) == 1


async def test_homework_links_become_attachments_and_deadline_drift_is_read() -> None:
    world = World.generate(4, WorldSize(grades=(5,), letters=1, students_per_class=2, weeks=1))
    hw = next(a for a in world.assignments.values() if a.work_type == "homework")
    files = [("Задание.pdf", "https://ruobr.ru/mediac/tasks/1/zadanie.pdf")]
    for fmt in ("datetime", "dmy"):
        options = RuobrEmulatorOptions(deadline_format=fmt, homework_files={hw.ext_id: files})
        pages, _ = await _pull(world, create_app(world, options=options))
        got = next(
            r
            for r in _records(pages)
            if isinstance(r, Homework)
            and r.provenance
            and r.provenance.external_ids["task"] == str(hw.ext_id)
        )
        assert got.due_date == hw.due_date
        assert got.text.split("\n") == [hw.name, "Задание.pdf"]
        assert [(a.name, a.url) for a in got.attachments] == files


async def test_school_name_prefix_and_missing_optional_user_fields() -> None:
    world = World.generate(4, WorldSize(grades=(5,), letters=1, students_per_class=2, weeks=1))
    options = RuobrEmulatorOptions(school_number_prefix=True, omit_optional_user_fields=True)
    pages, _ = await _pull(world, create_app(world, options=options))
    school = next(r for r in pages[0].records if r.ENTITY == "school")
    assert school.name == world.school(SLUG).name  # type: ignore[attr-defined]


async def test_a_rejected_family_account_is_noted_naming_only_its_position(
    big_world: World,
) -> None:
    """A further family's account the platform refuses is left out and noted (its pupils are
    then missing from the school's coverage); the others are still read."""
    transport = Counting(create_app(big_world))
    target = _target(big_world, bad_index=2)
    async with RuobrConnector(
        target, transport=transport, today=big_world.today, http=FAST
    ) as conn:
        await conn.login()
    bad = target.all_accounts[2]
    outcome = conn.account_outcomes[bad.login]
    assert outcome.state == "rejected" and not outcome.pupils
    assert "account #3 of 4" in outcome.detail and bad.password not in outcome.detail
    others = [o for login, o in conn.account_outcomes.items() if login != bad.login]
    assert len(others) == 3 and all(o.state == "ok" and o.pupils for o in others)


async def test_the_schools_own_login_rejected_stops_the_pull(big_world: World) -> None:
    transport = Counting(create_app(big_world))
    async with RuobrConnector(
        _target(big_world, bad_index=0), transport=transport, today=big_world.today, http=FAST
    ) as conn:
        with pytest.raises(AuthError) as err:
            await conn.login()
    assert "account #1 of 4" in str(err.value)


async def test_capabilities_are_honest_and_push_is_refused() -> None:
    caps = RuobrConnector.capabilities
    channels = {c.channel: c for c in caps.push}
    assert set(channels) == {PushChannel.WORKLIST, PushChannel.PACKAGE}
    for ch in channels.values():
        assert not ch.verified and ch.evidence.startswith("modelled: no write API is known")
    assert "attendance" in caps.reads and "LOW" in caps.notes
    assert caps.fields_not_carried["mark"] >= {"weight", "comment"}
    assert caps.fields_not_carried["attendance"] >= {"minutes_late", "note"}
    world = World.generate(4, WorldSize(grades=(5,), letters=1, students_per_class=1, weeks=1))
    async with RuobrConnector(
        _target(world), transport=Counting(create_app(world)), today=world.today, http=FAST
    ) as conn:
        with pytest.raises(UnsupportedOperation):
            await conn.push([])


def test_pages_partition_the_year_and_coarse_periods_ride_on_their_last_leaf() -> None:
    from connectors.ruobr import schema as s
    from connectors.ruobr.connector import _scopes

    def cp(n: int, title: str, start: str, end: str) -> s.ControlPeriod:
        return s.ControlPeriod.model_validate(
            {"period": n, "title": title, "date_start": start, "date_end": end}
        )

    q1 = cp(1, "1-я четверть", "2026-09-01", "2026-10-25")
    q2 = cp(2, "2-я четверть", "2026-11-05", "2026-12-28")
    h1 = cp(5, "1 полугодие", "2026-09-01", "2026-12-28")
    year = cp(7, "Год", "2026-09-01", "2027-05-31")
    scopes = _scopes("5А", [q1, q2, h1, year])
    assert [(sc.period.period, sc.start, sc.end) for sc in scopes] == [
        (1, date(2026, 9, 1), date(2026, 11, 4)),
        (2, date(2026, 11, 5), date(2027, 5, 31)),
    ]
    assert scopes[0].also == () and {p.period for p in scopes[1].also} == {5, 7}
