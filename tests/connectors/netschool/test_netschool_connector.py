"""NetSchoolConnector against the NetSchool emulator, in-process over ``httpx.ASGITransport``."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import date
from typing import Any, cast

import httpx
import pytest
from structlog.testing import capture_logs

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import NetSchoolEmulator, NetSchoolEmulatorOptions, create_app
from connectors.sandbox.world import World, WorldSize
from core.codes import AttendanceCode, MarkValue, Role
from core.connector import Change, Credentials, Page, PullMode, SchoolTarget
from core.errors import AuthError
from core.model import Attendance, Lesson, Mark, Person, Record

SLUG = "school-1"
SIZE = WorldSize(grades=(5, 10), letters=1, students_per_class=5, weeks=2)


class CountingTransport(httpx.AsyncBaseTransport):
    """The emulator's ASGI transport, recording each request's method and path."""

    def __init__(self, app: NetSchoolEmulator) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path.lower()))
        return await self.inner.handle_async_request(request)

    def count(self, method: str, path: str) -> int:
        return sum(1 for c in self.calls if c == (method, path))


class TermRecordingTransport(CountingTransport):
    """Also records the ``termId`` of every student-list request."""

    def __init__(self, app: NetSchoolEmulator) -> None:
        super().__init__(app)
        self.list_terms: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.lower() == "/webapi/grade/studentlist":
            self.list_terms.append(int(request.url.params["termId"]))
        return await super().handle_async_request(request)


@pytest.fixture
def world() -> World:
    return World.generate(7, SIZE)


@pytest.fixture
def app(world: World) -> NetSchoolEmulator:
    return create_app(world)


@pytest.fixture
def transport(app: NetSchoolEmulator) -> CountingTransport:
    return CountingTransport(app)


def _target(world: World, password: str | None = None) -> SchoolTarget:
    admin = world.accounts(school=SLUG, role="admin")[0]
    return SchoolTarget(
        school=SLUG,
        platform="netschool",
        base_url="http://netschool.test",
        credentials=Credentials(login=admin.login, password=password or admin.password),
        platform_school=world.school(SLUG).short_name,
    )


def _conn(
    world: World,
    target: SchoolTarget,
    transport: httpx.AsyncBaseTransport,
    today: date | None = None,
) -> NetSchoolConnector:
    return NetSchoolConnector(target, transport=transport, today=today or world.today)


@pytest.fixture
async def connector(
    world: World, transport: CountingTransport
) -> AsyncIterator[NetSchoolConnector]:
    async with _conn(world, _target(world), transport) as conn:
        yield conn


async def _pages(
    conn: NetSchoolConnector,
    cursors: dict[str, dict[str, Any]] | None = None,
    mode: PullMode = PullMode.FULL,
) -> list[Page]:
    return [p async for p in conn.pull(cursors or {}, mode)]


def _by_entity(records: list[Record], entity: str, drop: frozenset[str]) -> dict[str, Any]:
    return {
        r.id: {k: v for k, v in r.data().items() if k not in drop}
        for r in records
        if entity == r.ENTITY
    }


# --- login ----------------------------------------------------------------------------------------


async def test_login_with_a_cyrillic_password_and_logout(
    world: World, transport: CountingTransport
) -> None:
    admin = world.accounts(school=SLUG, role="admin")[0]
    assert not admin.password.isascii()  # the cp1251 hash is exercised
    conn = _conn(world, _target(world), transport)
    with capture_logs() as logs:
        await conn.login()
        at = conn.client.at
        assert at and await conn.client.session_expired() is False
        await conn.aclose()
    assert transport.calls[:4] == [
        ("GET", "/webapi/logindata"),
        ("POST", "/webapi/auth/getdata"),
        ("GET", "/webapi/schools/search"),
        ("POST", "/webapi/login"),
    ]
    assert transport.count("POST", "/webapi/auth/logout") == 1
    text = repr(logs)
    assert admin.password not in text and at not in text


async def test_wrong_password_is_an_auth_error_without_retries(
    world: World, transport: CountingTransport
) -> None:
    conn = _conn(world, _target(world, password="not-the-password"), transport)
    with pytest.raises(AuthError) as err:
        await conn.login()
    await conn.aclose()
    assert "Неправильный пароль" in err.value.message  # the platform's own message
    assert "not-the-password" not in err.value.message
    assert transport.count("POST", "/webapi/login") == 1
    assert transport.count("POST", "/webapi/auth/getdata") == 1


async def test_unknown_school_is_not_found(world: World, transport: CountingTransport) -> None:
    from dataclasses import replace

    from core.errors import NotFound

    target = replace(_target(world), platform_school="Лицей № 9999")
    async with _conn(world, target, transport) as conn:
        with pytest.raises(NotFound) as err:
            await conn.login()
    assert "Лицей № 9999" in err.value.message


async def test_esia_only_installation_is_an_auth_error(world: World) -> None:
    app = create_app(world, options=NetSchoolEmulatorOptions(esia_only=True))
    async with _conn(world, _target(world), httpx.ASGITransport(app=app)) as conn:
        with pytest.raises(AuthError, match="Gosuslugi"):
            await conn.login()


async def test_security_warning_is_acknowledged_after_login(world: World) -> None:
    app = create_app(world, options=NetSchoolEmulatorOptions(security_warning=True))
    async with _conn(world, _target(world), httpx.ASGITransport(app=app)) as conn:
        pages = cast(AsyncGenerator[Page, None], conn.pull({}))
        roster = await anext(pages)
        await pages.aclose()
    assert roster.scope == "roster" and roster.records


async def test_a_failed_login_post_reruns_the_whole_sequence_with_a_new_salt(
    app: NetSchoolEmulator, world: World, transport: CountingTransport
) -> None:
    app.faults.update(
        {
            "server_errors": 1,
            "path_prefix": "/webapi/login",
            "exclude_prefixes": ["/webapi/logindata"],
        }
    )
    async with _conn(world, _target(world), transport) as conn:
        await conn.login()
        assert conn.client.logins == 1
    assert transport.count("POST", "/webapi/login") == 2
    assert transport.count("POST", "/webapi/auth/getdata") == 2


async def test_idle_expiry_is_detected_and_healed(world: World) -> None:
    now = [0.0]
    options = NetSchoolEmulatorOptions(session_timeout_ms=60_000, clock=lambda: now[0])
    app = create_app(world, options=options)
    async with _conn(world, _target(world), httpx.ASGITransport(app=app)) as conn:
        await conn.login()
        now[0] += 61  # idle longer than timeOut
        assert await conn.client.session_expired() is True
        year = await conn.client.current_year()  # 401 → one re-login → replay
        assert year.id == world.school(SLUG).year.ext_id
        assert conn.client.logins == 2


# --- pull -----------------------------------------------------------------------------------------


async def test_full_pull_equals_the_world(world: World, connector: NetSchoolConnector) -> None:
    pages = await _pages(connector)
    assert [p.stream for p in pages[:2]] == ["roster", "journal"]
    assert all(not p.quarantine for p in pages)
    pulled = [r for p in pages for r in p.records]
    truth = world.canonical(SLUG, "netschool")
    caps = connector.capabilities
    for entity in sorted(caps.reads):
        drop = caps.fields_not_carried.get(entity, frozenset())
        want = _by_entity(truth, entity, drop)
        if entity == "person":  # guardians are invisible to staff reads (capabilities.notes)
            want = {k: v for k, v in want.items() if v["roles"] != [Role.GUARDIAN.value]}
        got = _by_entity(pulled, entity, drop)
        assert got == want, entity
        assert want, entity  # the world has records of every entity read
    assert len(pulled) == len({r.id for r in pulled})
    last = pages[-1]
    assert last.cursor["complete"] is True
    assert len(last.cursor["done"]) == len(pages) - 1
    assert all(p.complete_for == frozenset({"lesson", "homework", "mark", "attendance"})
               for p in pages[1:])  # fmt: skip


async def test_resume_yields_only_the_remaining_journal_pages(
    connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    first = await _pages(connector)
    journal = [p for p in first if p.stream == "journal"]
    crashed_after = journal[2]  # the engine committed three journal pages, then died
    transport.calls.clear()
    resumed = await _pages(connector, {"roster": first[0].cursor, "journal": crashed_after.cursor})
    resumed_journal = [p for p in resumed if p.stream == "journal"]
    assert [p.scope for p in resumed_journal] == [p.scope for p in journal[3:]]
    assert resumed_journal[-1].cursor == {
        "pass": 1,
        "done": [p.scope for p in journal],
        "complete": True,
    }
    assert transport.count("GET", "/webapi/grade/journal") == len(journal) - 3
    # a complete cursor starts the next pass
    again = await _pages(connector, {"roster": first[0].cursor, "journal": first[-1].cursor})
    assert again[-1].cursor["pass"] == 2 and len(again) == len(first)


async def test_resumed_pass_with_nothing_left_is_closed(connector: NetSchoolConnector) -> None:
    first = await _pages(connector)
    everything_done = {**first[-1].cursor, "complete": False}  # died after the last commit
    resumed = await _pages(connector, {"roster": first[0].cursor, "journal": everything_done})
    closing = [p for p in resumed if p.stream == "journal"]
    assert len(closing) == 1 and closing[0].records == [] and not closing[0].complete_for
    assert closing[0].cursor == {**everything_done, "complete": True}


async def test_incremental_visits_only_terms_near_today(
    world: World, transport: CountingTransport
) -> None:
    late = date(2026, 11, 10)  # 2nd quarter; the 1st ended on 25 Oct, more than 14 days before
    async with _conn(world, _target(world), transport, today=late) as c:
        full = [p.scope for p in await _pages(c) if p.stream == "journal"]
        incremental = [p.scope for p in await _pages(c, mode=PullMode.INCREMENTAL)]
    term_ids = {p.name: p.ext_id for p in world.school(SLUG).periods}
    assert incremental[0] == "roster"
    assert incremental[1:] == [s for s in full if s.endswith(f":{term_ids['2 четверть']}")]


@pytest.mark.parametrize(
    ("today", "quarters"),
    [
        (date(2026, 8, 25), ["1 четверть"]),  # before the year: the first term's lists
        (date(2026, 9, 20), ["1 четверть"]),
        (date(2026, 11, 10), ["1 четверть", "2 четверть"]),
    ],
)
async def test_student_lists_are_read_for_started_terms_only(
    world: World, app: NetSchoolEmulator, today: date, quarters: list[str]
) -> None:
    transport = TermRecordingTransport(app)
    async with _conn(world, _target(world), transport, today=today) as conn:
        pages = await _pages(conn)
    periods = {p.ext_id: p for p in world.school(SLUG).periods}
    read = {periods[t].name for t in transport.list_terms}
    assert {n for n in read if "четверть" in n} == set(quarters)
    assert all(periods[t].start <= max(today, min(p.start for p in periods.values()))
               for t in transport.list_terms)  # fmt: skip
    # every pupil is still in the roster, with the groups' members
    students = {
        r.key for r in pages[0].records if isinstance(r, Person) and Role.STUDENT in r.roles
    }
    assert students == {f"netschool:{a.person_id}" for a in world.accounts(SLUG, "student")}


async def test_session_expiry_mid_pull_logs_in_again_once(
    app: NetSchoolEmulator, connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    pages: list[Page] = []
    async for page in connector.pull({}):
        pages.append(page)
        if len(pages) == 3:
            assert app.expire_sessions() == 1
    assert transport.count("POST", "/webapi/login") == 2
    assert connector.client.logins == 2
    single = await _pages(connector)
    assert [p.scope for p in single] == [p.scope for p in pages]


async def test_malformed_records_are_quarantined_and_the_rest_kept(
    app: NetSchoolEmulator, world: World, connector: NetSchoolConnector
) -> None:
    clean = {p.scope: p for p in await _pages(connector)}
    app.faults.malformed = 2  # one out-of-scale mark, one result without studentId
    dirty = {p.scope: p for p in await _pages(connector)}
    quarantined = [(scope, q) for scope, p in dirty.items() for q in p.quarantine]
    assert len(quarantined) == 2 and len(app.faults.corrupted) == 2
    assert {q.entity for _, q in quarantined} == {"mark"}
    assert {q.field for _, q in quarantined} == {"mark", "studentId"}
    for _, q in quarantined:
        assert q.record.startswith("cm:") and "/assign:" in q.record
        for name in ("Иван", "Мария"):
            assert name not in q.reason
    for scope, page in dirty.items():
        before = {r.id: r for r in clean[scope].records}
        # exactly the quarantined marks are missing from their page; the rest is unchanged
        assert len(page.records) == len(before) - len(page.quarantine)
        assert all(before[r.id].data() == r.data() for r in page.records)
    assert (
        sum(len(p.records) for p in dirty.values())
        == sum(len(p.records) for p in clean.values()) - 2
    )


# --- push -----------------------------------------------------------------------------------------


def _refs(records: list[Record]) -> dict[str, dict[str, str]]:
    return {
        r.id: dict(r.provenance.external_ids)
        for r in records
        if r.provenance is not None and isinstance(r, Lesson | Person)
    }


async def test_push_round_trip_and_idempotency(
    world: World, connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    records = [r for p in await _pages(connector) for r in p.records]
    refs = _refs(records)
    lessons = [r for r in records if isinstance(r, Lesson)]
    marks = [r for r in records if isinstance(r, Mark)]
    # a lesson with no test yet, so the first test mark creates an assignment
    lesson = next(
        le
        for le in lessons
        if not any(m.lesson_id == le.id and m.work_type == "test" for m in marks)
    )
    group_members = _members_of(world, lesson, refs)
    student, other = group_members[0], group_members[1]
    existing = marks[0]

    new_mark = Mark(school=SLUG, student_id=student, lesson_id=lesson.id, work_type="test",
                    ordinal=1, value=MarkValue.FOUR, weight=2.0)  # fmt: skip
    dot = new_mark.model_copy(update={"student_id": other, "value": MarkValue.DOT})
    updated = existing.model_copy(update={"value": _other_value(existing.value)})
    absent = Attendance(school=SLUG, student_id=student, lesson_id=lesson.id,
                        code=AttendanceCode.ILL)  # fmt: skip
    ktp = world.groups[int(refs[lesson.id]["sgId"])].ktp
    new_topic = next(t.name for t in ktp if t.name != lesson.topic)
    topic = lesson.model_copy(update={"topic": new_topic})
    changes = [
        Change("k1", "upsert", new_mark, refs),
        Change("k2", "upsert", dot, refs),
        Change("k3", "upsert", updated, refs),
        Change("k4", "upsert", absent, refs),
        Change("k5", "upsert", topic, refs),
    ]
    outcomes = await connector.push(changes)
    assert [(o.key, o.ok) for o in outcomes] == [(f"k{i}", True) for i in range(1, 6)], outcomes
    assert outcomes[0].external_id == outcomes[1].external_id  # one new assignment for both

    back = await connector.read_back(changes)
    for change in changes:
        got = back[change.record.id]
        assert got is not None, change.key
        assert _content(got) == _content(change.record), change.key

    assignments_before = len(world.assignments)
    quick_before = transport.count("POST", "/webapi/grade/journal/quickedit")
    again = await connector.push(changes)
    assert all(o.ok for o in again)
    assert len(world.assignments) == assignments_before  # nothing created twice
    assert transport.count("POST", "/webapi/grade/journal/quickedit") == quick_before

    # the next pull sees the pushed state
    pulled = {r.id: r for p in await _pages(connector) for r in p.records}
    for change in changes:
        assert _content(pulled[change.record.id]) == _content(change.record), change.key

    # deletes: the mark and the absence go, and deleting again is a no-op
    deletes = [Change("d1", "delete", new_mark, refs), Change("d2", "delete", absent, refs)]
    assert all(o.ok for o in await connector.push(deletes))
    assert all(v is None for v in (await connector.read_back(deletes)).values())
    assert all(o.ok for o in await connector.push(deletes))


async def test_push_refusals(world: World, connector: NetSchoolConnector) -> None:
    records = [r for p in await _pages(connector) for r in p.records]
    refs = _refs(records)
    lesson = next(r for r in records if isinstance(r, Lesson))
    student = _members_of(world, lesson, refs)[0]
    not_in_plan = lesson.model_copy(update={"topic": "Тема, которой нет в КТП"})
    pass_mark = Mark(school=SLUG, student_id=student, lesson_id=lesson.id, work_type="credit",
                     value=MarkValue.PASS)  # fmt: skip
    no_refs = Mark(school=SLUG, student_id=student, lesson_id=lesson.id, work_type="answer",
                   value=MarkValue.FIVE)  # fmt: skip
    outcomes = await connector.push([
        Change("t", "upsert", not_in_plan, refs),
        Change("p", "upsert", pass_mark, refs),
        Change("r", "upsert", no_refs, {}),
    ])  # fmt: skip
    assert [o.ok for o in outcomes] == [False, False, False]
    assert "КТП" in outcomes[0].message
    assert not any(o.retriable for o in outcomes)


def _members_of(world: World, lesson: Lesson, refs: dict[str, dict[str, str]]) -> list[str]:
    by_user = {ids["userId"]: rid for rid, ids in refs.items() if "userId" in ids}
    group = world.groups[int(refs[lesson.id]["sgId"])]
    return [by_user[str(m)] for m in group.member_ids]


def _other_value(value: MarkValue) -> MarkValue:
    return MarkValue.THREE if value != MarkValue.THREE else MarkValue.FIVE


def _content(record: Record) -> dict[str, Any]:
    drop = NetSchoolConnector.capabilities.fields_not_carried.get(record.ENTITY, frozenset())
    data = {k: v for k, v in record.data().items() if k not in drop}
    if record.ENTITY == "mark":
        data.pop("weight")  # a new assignment takes its type's default weight
    return data


def test_capabilities_are_honest() -> None:
    caps = NetSchoolConnector.capabilities
    (api,) = caps.push
    assert api.verified is False and "not yet verified" in api.evidence
    assert api.entities == {"mark", "attendance", "lesson"}
    assert Counter(caps.reads) == Counter(
        {"school", "academic_year", "period", "person", "class_unit", "subject", "group",
         "lesson", "homework", "mark", "attendance"}
    )  # fmt: skip


async def test_a_batched_push_reads_a_group_once_and_sends_its_marks_per_number(
    world: World, connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    """Three lessons of one subject group: every member's new test mark, a second test mark for
    one pupil, two absences and a new topic per lesson. One journal read for the group, one
    quickedit per mark number, one form per lesson; the read-back reads the journal once."""
    records = [r for p in await _pages(connector) for r in p.records]
    refs = _refs(records)
    marks = [r for r in records if isinstance(r, Mark)]
    fresh = [
        le
        for le in records
        if isinstance(le, Lesson)
        and not any(m.lesson_id == le.id and m.work_type == "test" for m in marks)
    ]
    sg = Counter(refs[le.id]["sgId"] for le in fresh).most_common(1)[0][0]
    lessons = [le for le in fresh if refs[le.id]["sgId"] == sg][:3]
    assert len(lessons) == 3 and all(refs[le.id].get("classId") for le in lessons)
    members = _members_of(world, lessons[0], refs)
    ktp = [t.name for t in world.groups[int(sg)].ktp]
    changes: list[Change] = []
    for n, lesson in enumerate(lessons):
        for pupil in members:
            mark = Mark(school=SLUG, student_id=pupil, lesson_id=lesson.id, work_type="test",
                        ordinal=1, value=MarkValue.FOUR, weight=2.0)  # fmt: skip
            changes.append(Change(f"m{n}-{pupil}", "upsert", mark, refs))
        second = Mark(school=SLUG, student_id=members[0], lesson_id=lesson.id, work_type="test",
                      ordinal=2, value=MarkValue.FIVE, weight=2.0)  # fmt: skip
        changes.append(Change(f"s{n}", "upsert", second, refs))
        for pupil in members[:2]:
            absent = Attendance(school=SLUG, student_id=pupil, lesson_id=lesson.id,
                                code=AttendanceCode.ILL)  # fmt: skip
            changes.append(Change(f"a{n}-{pupil}", "upsert", absent, refs))
        topic = next(t for t in ktp if t != lesson.topic)
        changes.append(Change(f"t{n}", "upsert", lesson.model_copy(update={"topic": topic}), refs))
    transport.calls.clear()

    outcomes = await connector.push(changes)
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
    assert Counter(transport.calls) == Counter(
        {
            ("GET", "/webapi/grade/journal"): 1,
            ("POST", "/webapi/grade/journal/quickedit"): 2,  # mark numbers 1 and 2
            ("POST", "/webapi/grade/journal/edit"): 3,  # attendance and topic, per lesson
            ("GET", "/webapi/subjectplans/getforsubjectgroup"): 1,
        }
    )
    transport.calls.clear()
    back = await connector.read_back(changes)
    assert transport.calls == [("GET", "/webapi/grade/journal")]
    for change in changes:
        got = back[change.record.id]
        assert got is not None and _content(got) == _content(change.record), change.key

    # Pushed again: read once, nothing written, nothing created.
    assignments = len(world.assignments)
    transport.calls.clear()
    assert all(o.ok for o in await connector.push(changes))
    assert transport.calls == [("GET", "/webapi/grade/journal")]
    assert len(world.assignments) == assignments

    # Without the class and year ids the lessons' edit screens are read instead, at once.
    bare = {k: {n: v for n, v in ids.items() if n not in ("classId", "yearId")}
            for k, ids in refs.items()}  # fmt: skip
    transport.calls.clear()
    again = [Change(c.key, c.op, c.record, bare) for c in changes]
    assert all(o.ok for o in await connector.push(again))
    assert transport.calls == [("GET", "/webapi/grade/journal/edit")] * 3


async def test_a_refused_quickedit_is_sent_again_row_by_row_into_one_new_assignment(
    world: World, connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    """One row names a pupil outside the group: the platform refuses the whole request; each
    row is then sent alone, the bad one fails, and the good ones fill one new assignment."""
    records = [r for p in await _pages(connector) for r in p.records]
    refs = _refs(records)
    marks = [r for r in records if isinstance(r, Mark)]
    lesson = next(
        le
        for le in records
        if isinstance(le, Lesson)
        and not any(m.lesson_id == le.id and m.work_type == "test" for m in marks)
    )
    members = _members_of(world, lesson, refs)
    outsider = next(
        rid for rid, ids in refs.items() if "userId" in ids and rid not in members
        and world.persons[int(ids["userId"])].role == "student"
    )  # fmt: skip
    changes = [
        Change(f"k{n}", "upsert", Mark(school=SLUG, student_id=pupil, lesson_id=lesson.id,
               work_type="test", ordinal=1, value=MarkValue.FOUR), refs)
        for n, pupil in enumerate([members[0], outsider, members[1]])
    ]  # fmt: skip
    assignments = len(world.assignments)
    outcomes = await connector.push(changes)
    assert [o.ok for o in outcomes] == [True, False, True], outcomes
    assert outcomes[0].external_id == outcomes[2].external_id
    assert len(world.assignments) == assignments + 1
    assert transport.count("POST", "/webapi/grade/journal/quickedit") == 1 + 3


async def test_a_second_mark_without_a_first_gets_an_empty_first_assignment(
    world: World, connector: NetSchoolConnector, transport: CountingTransport
) -> None:
    """The source's first test on the lesson holds no mark the target takes: number 2 is
    written all the same, after an empty assignment made for number 1 (RegimeAddAssign)."""
    records = [r for p in await _pages(connector) for r in p.records]
    refs = _refs(records)
    marks = [r for r in records if isinstance(r, Mark)]
    lesson = next(
        le
        for le in records
        if isinstance(le, Lesson)
        and not any(m.lesson_id == le.id and m.work_type == "test" for m in marks)
    )
    pupil = _members_of(world, lesson, refs)[0]
    second = Mark(school=SLUG, student_id=pupil, lesson_id=lesson.id, work_type="test",
                  ordinal=2, value=MarkValue.FIVE)  # fmt: skip
    change = Change("k", "upsert", second, refs)
    assignments = len(world.assignments)
    [outcome] = await connector.push([change])
    assert outcome.ok, outcome
    assert len(world.assignments) == assignments + 2
    got = (await connector.read_back([change]))[second.id]
    assert got is not None and _content(got) == _content(second)
    # Pushed again: nothing made, nothing sent.
    posts = transport.count("POST", "/webapi/grade/journal/edit")
    assert (await connector.push([change]))[0].ok
    assert len(world.assignments) == assignments + 2
    assert transport.count("POST", "/webapi/grade/journal/edit") == posts
