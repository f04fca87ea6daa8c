"""The АВЕРС connector against its emulator: lost auth, accounts, fallbacks, finals, mapping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from connectors.avers import AversConnector
from connectors.avers._journal import ClassContext, StudentRows, Timetable, journal_page
from connectors.avers.emulator import AversEmulator, AversEmulatorOptions, create_app
from connectors.avers.harness import expected
from connectors.avers.harness import target as school_target
from connectors.avers.mapping import Mapper, person_id, split_name
from connectors.avers.schema import DiaryRow, DirectorRow, JournalRow, LessonRow
from connectors.conformance.harness import SMALL
from connectors.sandbox import Account, World
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import serve_in_thread
from core.codes import AttendanceCode, MarkValue
from core.connector import Credentials, Page, SchoolTarget
from core.errors import AuthError, ConfigError, SessionExpired
from core.http import HttpSettings
from core.model import AcademicYear, Attendance, FinalMark, Group, Lesson, Mark, Person, Record
from core.store import Store
from core.sync import PullResult, pull

BASE = "http://avers.test"
_FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)


@pytest.fixture
def world() -> World:
    return World.generate(11, SMALL)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path}/avers.db")
    yield s  # type: ignore[misc]
    s.close()


def _students(world: World, grade: int) -> list[Account]:
    return [
        a
        for a in world.accounts("school-1", "student")
        if world.classes[world.persons[a.person_id].class_id or 0].grade == grade
    ]


def _target(world: World, accounts: Sequence[Account], base: str = BASE) -> SchoolTarget:
    creds = [Credentials(login=a.login, password=a.password) for a in accounts]
    return SchoolTarget(
        school="school-1",
        platform="avers",
        base_url=base,
        credentials=creds[0],
        accounts=tuple(creds[1:]),
    )


def _connector(app: AversEmulator, target: SchoolTarget) -> AversConnector:
    return AversConnector(
        target, transport=httpx.ASGITransport(app=app), today=app.world.today, http=_FAST
    )


def _ids(records: object) -> set[str]:
    return {r.id for r in records}  # type: ignore[attr-defined]


async def test_lost_auth_mid_pull_relogs_once_and_loses_nothing(
    world: World, store: Store, tmp_path: Path
) -> None:
    """One account (no account switch to hide it): after the roster page the server forgets the
    session, the next action answers ``[]``, the probe confirms it, one re-login, replay."""
    app = create_app(world)
    target = _target(world, _students(world, 5)[:1])

    def expire_after_roster(page: Page, result: PullResult) -> None:
        if result.pages == 1:
            app.expire_sessions()

    async with _connector(app, target) as c:
        result = await pull(store, c, on_page=expire_after_roster, batch_records=1)
        assert c.client.relogins == 1
    assert result.quarantined == 0
    clean = Store.open(f"sqlite:///{tmp_path}/clean.db")
    try:
        async with _connector(create_app(world), target) as c:
            await pull(clean, c)
            assert c.client.relogins == 0  # genuine empty answers ([] groups, no finals) are fine
        got = _ids(store.remote_records("school-1", "avers"))
        assert got == _ids(clean.remote_records("school-1", "avers"))
        assert store.remote_counts("school-1", "avers")["mark"] > 0
    finally:
        clean.close()


async def test_session_lost_again_after_the_relogin_is_an_error_not_an_empty_answer(
    world: World,
) -> None:
    """The session is forgotten before the call, the probe, the replay and the second probe:
    the replay's ``[]`` must not be read as «no data» (found by the soak: a pull took it as no
    terms, no teachers, and wrote estimated terms over the whole journal)."""
    faults = Faults(exclude_prefixes=["/login", "/auth"])
    app = create_app(world, faults=faults)
    faults.on_expire = app.expire_sessions
    acc = _students(world, 5)[0]
    async with _connector(app, _target(world, [acc])) as c:
        await c.login()
        assert await c.client.act("GET_PERIODS") != []  # the cookies work on this server
        faults.update({"expire_sessions": 4})
        with pytest.raises(SessionExpired, match="lost again right after logging in again"):
            await c.client.act("GET_PERIODS")
        assert c.client.relogins == 1 and faults.injected == {"expire_sessions": 4}
        faults.update({"expire_sessions": 2})  # lost once, the replay gets through
        assert await c.client.act("GET_PERIODS") != []
        assert c.client.relogins == 2


async def test_cyrillic_login_plain_http_path_prefix_over_a_socket(
    world: World, store: Store
) -> None:
    acc = _students(world, 7)[0]
    world.persons[acc.person_id].login = "Ёлкина.Ю"
    acc = Account(acc.role, "Ёлкина.Ю", acc.password, acc.person_id, acc.school)
    app = create_app(world, options=AversEmulatorOptions(base_path="/5sov"))
    with serve_in_thread(app) as server:
        target = _target(world, [acc], base=server.base_url + "/5sov/")
        async with AversConnector(target, today=world.today, http=_FAST) as c:
            result = await pull(store, c)
    assert result.quarantined == 0
    people = [
        p for p in store.remote_records("school-1", "avers", "person") if isinstance(p, Person)
    ]
    me = next(p for p in people if p.key == f"avers:{acc.person_id}")
    assert me.last_name == world.persons[acc.person_id].last_name
    assert me.first_name == world.persons[acc.person_id].first_name[0]


async def test_empty_uch_year_falls_back_to_the_date(world: World, store: Store) -> None:
    app = create_app(world, options=AversEmulatorOptions(uch_year_empty=True))
    async with _connector(app, _target(world, _students(world, 1)[:1])) as c:
        await pull(store, c)
    years = list(store.remote_records("school-1", "avers", "academic_year"))
    assert isinstance(years[0], AcademicYear) and years[0].start_year == world.size.start_year


async def test_period_marks_are_pulled_per_term(world: World, store: Store) -> None:
    acc = _students(world, 5)[0]
    school = world.schools["school-1"]
    subject = world.groups_of_student(acc.person_id)[0].subject_id
    world.final_marks[(acc.person_id, subject, school.periods[0].ext_id)] = MarkValue.FOUR
    world.final_marks[(acc.person_id, subject, school.periods[1].ext_id)] = MarkValue.NOT_ATTESTED
    async with _connector(create_app(world), _target(world, [acc])) as c:
        await pull(store, c)
    finals = [
        f
        for f in store.remote_records("school-1", "avers", "final_mark")
        if isinstance(f, FinalMark)
    ]
    assert sorted(f.value for f in finals) == sorted([MarkValue.FOUR, MarkValue.NOT_ATTESTED])
    want = {r.id for r in expected(world, "school-1", "avers") if isinstance(r, FinalMark)}
    assert {f.id for f in finals} == want


async def test_full_pull_matches_the_world_for_one_class(world: World, store: Store) -> None:
    accounts = _students(world, 7)
    async with _connector(create_app(world), _target(world, accounts)) as c:
        await pull(store, c)
    mine = {person_id("school-1", a.person_id) for a in accounts}
    marks = {
        m.id: m.data()
        for m in store.remote_records("school-1", "avers", "mark")
        if isinstance(m, Mark)
    }
    want = {
        r.id: r.data()
        for r in expected(world, "school-1", "avers")
        if isinstance(r, Mark) and r.student_id in mine
    }
    assert marks == want and len(marks) > 20  # value, work type, ordinal, weight, comment, teacher


async def test_a_teacher_account_is_a_config_error(world: World, store: Store) -> None:
    teacher = world.accounts("school-1", "teacher")[0]
    async with _connector(create_app(world), _target(world, [teacher])) as c:
        with pytest.raises(ConfigError, match="teacher account"):
            await pull(store, c)


async def test_bad_password_old_style_empty_answer(world: World, store: Store) -> None:
    app = create_app(world, options=AversEmulatorOptions(bad_login="empty"))
    target = school_target(world, BASE, "school-1", good=False)
    async with _connector(app, target) as c:
        with pytest.raises(AuthError) as err:
            await pull(store, c)
    assert target.credentials.password not in str(err.value)
    assert store.remote_counts("school-1", "avers") == {}


# --- mapping -------------------------------------------------------------------------------------


def test_split_name_initials_and_full() -> None:
    assert split_name("Кузнецов К.К.") == ("Кузнецов", "К", "К")
    assert split_name("Кузнецов К.") == ("Кузнецов", "К", "")
    assert split_name("Иванова Анна Сергеевна") == ("Иванова", "Анна", "Сергеевна")


def test_unknown_codes_are_quarantined_as_their_entity_and_loose_rows_get_lessons() -> None:
    """An unmapped code is quarantined (as attendance when its text is an attendance letter);
    code 104 «У» is excused; a row whose column is not in the diary gets a lesson built from
    the journal; a text that disagrees with its code is not trusted."""
    m = Mapper("school-1")
    day = date(2026, 9, 7)
    ctx = ClassContext(
        cls=1, class_id="c", split_subjects=frozenset(), groups={(4, 0): "g"}, subjects={4: "s"},
        timetable=Timetable([]),
    )  # fmt: skip
    rows = StudentRows(
        pupil_id=9,
        diary=[DiaryRow(day, 10, 4, "Тема", "", None, 1, None, 61)],
        lessons=[LessonRow(10, None, None)],
        journal=[
            JournalRow(10, 9, "У", day, 4, 104, None),
            JournalRow(11, 9, "ОП", day, 4, 107, None),
            JournalRow(12, 9, "?", day, 4, 888, None),
            JournalRow(13, 9, "Н", day, 4, 5, None),
            JournalRow(77, 9, "5", date(2026, 9, 8), 4, 5, None),
        ],
    )
    batch = journal_page(m, ctx, [rows], period_id="p", platform_period=360000)
    entities = sorted(r.ENTITY for r in batch.records)
    assert entities == ["attendance", "lesson", "lesson", "lesson", "mark"]
    assert sorted((q.entity, q.field) for q in batch.quarantine) == [
        ("attendance", "code"),
        ("mark", "code"),
        ("mark", "value"),
    ]
    assert all("9" not in q.reason for q in batch.quarantine)
    att = next(r for r in batch.records if isinstance(r, Attendance))
    assert att.code == AttendanceCode.EXCUSED
    lessons = [r for r in batch.records if isinstance(r, Lesson)]
    # the diary's lesson is number 1 on the 7th; the journal's own lessons take free numbers
    assert sorted((le.date.day, le.number) for le in lessons) == [(7, 1), (7, 2), (8, 1)]
    mark = next(r for r in batch.records if isinstance(r, Mark))
    on_8th = next(le for le in lessons if le.date.day == 8)
    assert mark.lesson_id == on_8th.id and mark.work_type == "other"


def test_two_marks_on_one_lesson_are_two_records() -> None:
    """The captured shape: a second column of a lesson names the main one (diary position 7);
    each column's mark is its own record, ordinals 1 and 2, without GET_STUDENT_LESSONS."""
    m = Mapper("school-1")
    day = date(2026, 4, 27)
    ctx = ClassContext(
        cls=1, class_id="c", split_subjects=frozenset(), groups={(4, 0): "g"}, subjects={4: "s"},
        timetable=Timetable([]),
    )  # fmt: skip
    rows = StudentRows(
        pupil_id=9,
        diary=[
            DiaryRow(day, 10, 4, "Тема", "", "4", 1, None, 61),
            DiaryRow(day, 11, 4, "Тема", None, "3", 1, 10, 61),
        ],
        journal=[
            JournalRow(10, 9, "4", day, 4, 4, None),
            JournalRow(11, 9, "3", day, 4, 3, None),
            JournalRow(20, 9, "5", day + timedelta(days=1), 4, 5, None),
            JournalRow(21, 9, "2", day + timedelta(days=1), 4, 2, None),
        ],
    )
    batch = journal_page(m, ctx, [rows], period_id="p", platform_period=360000)
    marks = sorted(
        ((r.lesson_id, r.ordinal, r.value) for r in batch.records if isinstance(r, Mark)),
        key=lambda t: (t[0], t[1]),
    )
    assert len(marks) == 4 and not batch.quarantine
    by_lesson: dict[str, list[tuple[int, str]]] = {}
    for lesson_id, ordinal, value in marks:
        by_lesson.setdefault(lesson_id, []).append((ordinal, value))
    assert sorted(by_lesson.values()) == [[(1, "4"), (2, "3")], [(1, "5"), (2, "2")]]


def _facts(records: Sequence[Record]) -> Counter[tuple[str, ...]]:
    """Marks, attendance and finals as (kind, student, date, subject, value): what survives
    without the enrichments (no work types, ordinals or weights; subgroups may be guessed)."""
    lessons = {r.id: r for r in records if isinstance(r, Lesson)}
    groups = {r.id: r for r in records if isinstance(r, Group)}
    out: Counter[tuple[str, ...]] = Counter()
    for r in records:
        if isinstance(r, Mark | Attendance):
            le = lessons[r.lesson_id]
            value = r.value if isinstance(r, Mark) else r.code
            out[(r.ENTITY, r.student_id, str(le.date), groups[le.group_id].subject_id, value)] += 1
        elif isinstance(r, FinalMark):
            out[(r.ENTITY, r.student_id, r.period_id, r.subject_id, r.value)] += 1
    return out


async def test_without_the_uncaptured_actions_every_entry_still_arrives(
    world: World, store: Store
) -> None:
    """A server that answers ``[]`` to every action the captured client never calls, and 404 to
    the logout: the pull completes, quarantines nothing, names each missing enrichment, and
    every visible mark, attendance entry and period mark arrives (work types become «other»)."""
    accounts = _students(world, 7)
    mine = {person_id("school-1", a.person_id) for a in accounts}
    school = world.schools["school-1"]
    for k, period in enumerate(school.periods[:2]):
        subject = world.groups_of_student(accounts[k].person_id)[0].subject_id
        world.final_marks[(accounts[k].person_id, subject, period.ext_id)] = MarkValue.FOUR
    options = AversEmulatorOptions(captured_only=True, logout_missing=True)
    with capture_logs() as logs:
        async with _connector(create_app(world, options=options), _target(world, accounts)) as c:
            result = await pull(store, c)
    assert result.quarantined == 0
    warned = {e.get("action") for e in logs if e["event"].startswith("avers enrichment")}
    assert {"GET_JOURNAL_PERIODS_INFO", "GET_CLASS_PER_SP", "GET_STUDENT_LESSONS"} <= warned
    assert any(e["event"].startswith("avers logout failed") for e in logs)
    world_records = expected(world, "school-1", "avers")
    want = Counter({k: n for k, n in _facts(world_records).items() if k[1] in mine})
    got = _facts(list(store.remote_records("school-1", "avers")))
    assert got == want and sum(want.values()) > 50
    kinds = Counter(k[0] for k in got.elements())
    assert kinds["mark"] and kinds["attendance"] and kinds["final_mark"]


async def test_a_failed_logout_never_hides_the_error_that_ended_the_run(
    world: World, store: Store
) -> None:
    teacher = world.accounts("school-1", "teacher")[0]
    app = create_app(world, options=AversEmulatorOptions(logout_missing=True))
    with capture_logs() as logs, pytest.raises(ConfigError, match="teacher account"):
        async with _connector(app, _target(world, [teacher])) as c:
            await pull(store, c)
    assert any(e["event"].startswith("avers logout failed") for e in logs)


def test_finals_of_every_period_kind_land_on_their_page_or_are_quarantined() -> None:
    """Half-year and attestation marks (captured: 360011, 360024, «н/а») are finals of their
    periods; a control-work period (360005) has no canonical kind and is quarantined."""
    m = Mapper("school-1")
    ctx = ClassContext(
        cls=1, class_id="c", split_subjects=frozenset(), groups={(4, 0): "g"}, subjects={4: "s"},
        timetable=Timetable([]),
    )  # fmt: skip
    rows = StudentRows(
        pupil_id=9,
        finals=[
            DirectorRow(1, 360000, 9, "4     ", 4, 1),
            DirectorRow(1, 360011, 9, "н/а   ", 4, 1),
            DirectorRow(1, 360024, 9, "5     ", 4, 1),
            DirectorRow(1, 360005, 9, "3     ", 4, 1),
        ],
    )
    periods = {360000: "q1", 360011: "h1", 360024: "att"}
    batch = journal_page(m, ctx, [rows], period_id="q1", platform_period=360000, finals=periods)
    finals = sorted((r.period_id, r.value) for r in batch.records if isinstance(r, FinalMark))
    assert finals == [("att", "5"), ("h1", "na"), ("q1", "4")]
    assert [(q.entity, q.field) for q in batch.quarantine] == [("final_mark", "period_id")]
