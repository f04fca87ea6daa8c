"""KiasuoConnector against the КИАСУО emulator, in-process over ``httpx.ASGITransport``.

The world runs from September 2026 into January 2027, so the pull crosses ISO week 2026-W53
(2026-12-28 … 2027-01-03) and the first quarter's period marks exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from connectors.conformance.compare import differences, project
from connectors.kiasuo import HOW_TO_GET_TOKEN, KiasuoConnector
from connectors.kiasuo.emulator import KiasuoEmulator, create_app
from connectors.kiasuo.harness import family_accounts, visible
from connectors.sandbox.world import World, WorldSize
from core.codes import MarkValue
from core.connector import Credentials, PullMode, PushChannel, SchoolTarget
from core.errors import UnsupportedOperation
from core.http import HttpSettings
from core.model import FinalMark, Lesson, Mark, Person
from core.store import Store
from core.sync import pull

SLUG = "school-1"
# 18 calendar weeks from the week of 1 September (31 August 2026): through Sat 2 January 2027
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=4, weeks=18)
BASE = "http://kiasuo.test"
_FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, app: KiasuoEmulator) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.requests: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url)
        return await self.inner.handle_async_request(request)

    def weeks(self) -> list[tuple[str, str]]:
        return [
            (u.params["year"], u.params["week"])
            for u in self.requests
            if u.path.endswith("/schedule")
        ]


@pytest.fixture
def world() -> World:
    return World.generate(5, SIZE)


@pytest.fixture
def app(world: World) -> KiasuoEmulator:
    return create_app(world)


@pytest.fixture
def store(tmp_path: Any) -> Any:
    s = Store.open(f"sqlite:///{tmp_path}/kiasuo.db")
    yield s
    s.close()


class Session:
    """Connectors over one emulator, sharing the saved state like the engine does."""

    def __init__(self, world: World, app: KiasuoEmulator, accounts: list[Credentials]) -> None:
        self.world, self.app, self.accounts = world, app, accounts
        self.state: dict[str, Any] = {}
        self.transport = Recording(app)

    def _save(self, state: Any) -> None:
        self.state = dict(state)

    def connector(self) -> KiasuoConnector:
        target = SchoolTarget(
            school=SLUG,
            platform="kiasuo",
            base_url=BASE,
            credentials=self.accounts[0],
            accounts=tuple(self.accounts[1:]),
        )
        return KiasuoConnector(
            target,
            transport=self.transport,
            state=self.state,
            save_state=self._save,
            today=self.world.today,
            http=_FAST,
        )

    async def pull(self, store: Store, mode: PullMode = PullMode.FULL) -> Any:
        async with self.connector() as c:
            return await pull(store, c, mode=mode)


def _snapshot(store: Store) -> dict[str, Any]:
    return project(store.remote_records(SLUG, "kiasuo"), KiasuoConnector.capabilities)


async def test_full_pull_across_new_year_equals_what_families_see(
    world: World, app: KiasuoEmulator, store: Store
) -> None:
    assert world.today > date(2026, 12, 28)
    session = Session(world, app, family_accounts(world, SLUG))
    result = await session.pull(store)
    assert result.quarantined == 0
    expected = project(visible(world, SLUG, "kiasuo"), KiasuoConnector.capabilities)
    assert differences(_snapshot(store), expected) == ""
    records = list(store.remote_records(SLUG, "kiasuo"))
    days = {r.date for r in records if isinstance(r, Lesson)}
    # ISO week 53 holds the last school day of the 2nd quarter (Mon 28 Dec) and then the winter
    # holidays: no lessons until the 3rd quarter (12 Jan)
    assert date(2026, 12, 28) in days
    assert not [d for d in days if date(2026, 12, 29) <= d <= date(2027, 1, 11)]
    assert any(isinstance(r, FinalMark) for r in records)
    weeks = session.transport.weeks()
    assert ("2026", "53") in weeks and ("2027", "1") in weeks
    assert ("2027", "53") not in weeks and ("2026", "1") not in weeks


async def test_a_malformed_mark_is_quarantined_and_the_rest_kept(
    world: World, app: KiasuoEmulator, store: Store
) -> None:
    app.faults.update({"malformed": 1})
    session = Session(world, app, family_accounts(world, SLUG))
    result = await session.pull(store)
    assert result.quarantined == 1 and app.faults.corrupted
    (row,) = store.quarantined(SLUG, "kiasuo")
    assert (row.entity, row.field) == ("mark", "mark.value")
    assert "unknown mark value" in row.reason and row.record.startswith("lesson_event:")
    names = {p.last_name for p in store.remote_records(SLUG, "kiasuo") if isinstance(p, Person)}
    assert not any(n in row.reason for n in names)
    expected = project(visible(world, SLUG, "kiasuo"), KiasuoConnector.capabilities)
    actual = _snapshot(store)
    assert 1 <= len(expected) - len(actual) <= 2
    assert all(actual[k] == expected[k] for k in actual)


async def test_incremental_pull_finds_a_late_edit_in_an_old_week(
    world: World, app: KiasuoEmulator, store: Store
) -> None:
    session = Session(world, app, family_accounts(world, SLUG))
    await session.pull(store)
    full_weeks = len(session.transport.weeks())
    september = next(
        le for le in world.lessons.values() if le.day < date(2026, 9, 20) and le.assignment_ids
    )
    student = world.groups[september.group_id].member_ids[0]
    world.set_mark(september.ext_id, student, "project", MarkValue.TWO)
    session.transport.requests.clear()
    result = await session.pull(store, PullMode.INCREMENTAL)
    assert result.inserted >= 1
    assert len(session.transport.weeks()) < full_weeks / 3
    expected = project(visible(world, SLUG, "kiasuo"), KiasuoConnector.capabilities)
    assert differences(_snapshot(store), expected) == ""


async def test_one_family_sees_its_child_and_the_classmates_names(
    world: World, app: KiasuoEmulator, store: Store
) -> None:
    session = Session(world, app, family_accounts(world, SLUG)[:1])
    await session.pull(store)
    guardian = world.accounts(SLUG, "guardian")[0]
    child = world.persons[guardian.person_id].children[0]
    records = list(store.remote_records(SLUG, "kiasuo"))
    students = [p for p in records if isinstance(p, Person) and "student" in p.roles]
    assert len(students) == SIZE.students_per_class
    mine = next(p for p in students if p.key == f"kiasuo:{child}")
    assert mine.middle_name == world.persons[child].middle_name
    assert all(p.middle_name == "" for p in students if p is not mine)
    marked = {m.student_id for m in records if isinstance(m, Mark)}
    assert marked == {mine.id}


def test_capabilities_are_honest_and_push_is_refused() -> None:
    caps = KiasuoConnector.capabilities
    assert caps.channel(PushChannel.API) is None
    for channel in (PushChannel.WORKLIST, PushChannel.PACKAGE):
        ch = caps.channel(channel)
        assert ch is not None and not ch.verified and ch.evidence.startswith("modelled")
        assert {"mark", "attendance"} <= ch.entities
    assert "birth_date" in caps.fields_not_carried["person"]
    assert "weight" in caps.fields_not_carried["mark"]
    assert {"final_mark", "homework", "attendance", "group"} <= caps.reads
    assert "Госуслуги" in HOW_TO_GET_TOKEN and "32 hexadecimal" in HOW_TO_GET_TOKEN


async def test_push_is_unsupported(world: World, app: KiasuoEmulator) -> None:
    session = Session(world, app, family_accounts(world, SLUG)[:1])
    async with session.connector() as c:
        with pytest.raises(UnsupportedOperation):
            await c.push([])


async def test_schedule_shows_a_double_mark_as_one_cell_and_iso_weeks(world: World) -> None:
    # the last school day before the winter holidays, in ISO week 53 of 2026
    lesson = next(le for le in world.lessons.values() if le.day == date(2026, 12, 28))
    student = world.groups[lesson.group_id].member_ids[0]
    world.set_attendance(lesson.ext_id, student, None)
    first = world.create_assignment(lesson.ext_id, "independent")
    second = world.create_assignment(lesson.ext_id, "independent")
    world.set_mark(lesson.ext_id, student, "independent", MarkValue.FOUR, first.ext_id)
    world.set_mark(lesson.ext_id, student, "independent", MarkValue.FIVE, second.ext_id)
    for a in world.lesson_assignments(lesson):
        if a.work_type == "independent" and a.ext_id not in (first.ext_id, second.ext_id):
            a.marks.pop(student, None)
    app = create_app(world)
    guardian = world.persons[student].guardian_ids[0]
    acc = next(a for a in world.accounts(SLUG, "guardian") if a.person_id == guardian)
    token = next(c.token for c in family_accounts(world, SLUG) if c.login == acc.login)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        pair = (await c.post("/diary/refresh", data={"refresh-token": token})).json()
        c.headers["Authorization"] = f"Bearer {pair['accessToken']}"
        week = await c.get("/diary/api/schedule", params={"year": 2026, "week": 53, "id": student})
        assert week.status_code == 200
        body = week.json()
        assert min(le["lesson_date"] for le in body["schedule"]) == "2026-12-28"
        (le,) = [x for x in body["schedule"] if x["lesson_event_id"] == lesson.ext_id]
        values = [
            s["mark"].get("value") for s in le["slots"] if s["text"] == "Самостоятельная работа"
        ]
        assert values == ["4/5"]
        bad = await c.get("/diary/api/schedule", params={"year": 2027, "week": 53, "id": student})
        assert bad.status_code == 400


async def test_a_student_account_sees_itself(
    world: World, app: KiasuoEmulator, store: Store
) -> None:
    from connectors.kiasuo.emulator import initial_refresh_token

    student = world.accounts(SLUG, "student")[0]
    accounts = [Credentials(login=student.login, token=initial_refresh_token(world, student))]
    result = await Session(world, app, accounts).pull(store)
    assert result.quarantined == 0
    marks = [m for m in store.remote_records(SLUG, "kiasuo") if isinstance(m, Mark)]
    assert marks and {m.student_id for m in marks} == {
        next(
            p.id
            for p in store.remote_records(SLUG, "kiasuo")
            if isinstance(p, Person) and p.key == f"kiasuo:{student.person_id}"
        )
    }
