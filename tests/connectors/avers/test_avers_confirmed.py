"""One account's calls checked together (``AversClient.confirmed``), the emulator's index, and
the fast paths of the JS-literal reader and writer (issue 13 item 6).

An ``[]`` is vouched for by a later answer with data of the same account (a lost
authentication stays lost until ``/auth``); only an ``[]`` nothing vouched for costs a probe,
and a lost session is still found and the calls replayed, never read as «no data»."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import httpx
import pytest
from structlog.testing import capture_logs

from connectors.avers import AversConnector
from connectors.avers import _emulator_rows as rows
from connectors.avers.client import Ask
from connectors.avers.emulator import AversEmulator, create_app
from connectors.avers.jsarray import JsValue, _render_value, parse, parse_tokens, render
from connectors.conformance.harness import SMALL
from connectors.sandbox import Account, World, WorldSize
from connectors.sandbox.faults import Faults
from core.connector import Credentials, SchoolTarget
from core.errors import SessionExpired
from core.http import HttpSettings
from core.store import Store
from core.sync import pull
from tests.connectors.avers.counting import Count as _Count

BASE = "http://avers.test"
_FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0)


def _target(accounts: Sequence[Account]) -> SchoolTarget:
    creds = [Credentials(login=a.login, password=a.password) for a in accounts]
    return SchoolTarget(
        school="school-1",
        platform="avers",
        base_url=BASE,
        credentials=creds[0],
        accounts=tuple(creds[1:]),
    )


def _split_pupil(world: World) -> Account:
    """A pupil in a subgroup (GET_STUDENT_GROUPS answers data for it)."""
    return next(
        a
        for a in world.accounts("school-1", "student")
        if any(g.subgroup for g in world.groups_of_student(a.person_id))
    )


async def _session(
    world: World,
) -> tuple[AversEmulator, Faults, _Count, AversConnector, Credentials, dict[str, str]]:
    faults = Faults(exclude_prefixes=["/login", "/auth"])
    app = create_app(world, faults=faults)
    faults.on_expire = app.expire_sessions
    acc = _split_pupil(world)
    count = _Count(httpx.ASGITransport(app=app))
    c = AversConnector(_target([acc]), transport=count, today=world.today, http=_FAST)
    await c.login()
    pupil = world.persons[acc.person_id]
    ids = {
        "student": str(acc.person_id),
        "uchYear": str(world.schools["school-1"].year.start_year),
        "uchId": "1",
        "cls": str(pupil.class_id),
        "currentDate": world.today.strftime("%d.%m.%Y"),
    }
    return app, faults, count, c, c.target.credentials, ids


async def _parallel_then_class(ask: Ask, ids: Mapping[str, str]) -> list[list[JsValue]]:
    return [await ask("GET_STUDENT_PARALLEL", ids), await ask("GET_STUDENT_CLASS", ids)]


async def test_an_empty_answer_vouched_for_by_a_later_one_costs_no_probe() -> None:
    world = World.generate(11, SMALL)
    _, _, count, c, acc, ids = await _session(world)
    async with c:
        parallel, klass = await c.client.confirmed(acc, lambda ask: _parallel_then_class(ask, ids))
        assert parallel == [] and klass != []
        assert count.paths["/act/get_user_data"] == 0
        # the same [] last in the run: one probe decides it
        only = await c.client.confirmed(acc, lambda ask: ask("GET_STUDENT_PARALLEL", ids))
        assert only == [] and count.paths["/act/get_user_data"] == 1
        assert c.client.relogins == 0


async def test_a_session_lost_before_the_run_is_found_and_the_run_replayed() -> None:
    """The server forgets the session before the run's first call: its ``[]`` answers are lost
    authentication (the class row is missing too), not data — one re-login, the run again."""
    world = World.generate(11, SMALL)
    _, faults, _, c, acc, ids = await _session(world)
    async with c:
        faults.update({"expire_sessions": 1})
        parallel, klass = await c.client.confirmed(acc, lambda ask: _parallel_then_class(ask, ids))
        assert parallel == [] and klass != [] and c.client.relogins == 1


async def test_a_last_empty_answer_after_a_lost_session_is_not_taken_as_data() -> None:
    """The subgroups (data for this pupil) are the run's last call and the session is lost just
    before it: nothing comes after to vouch for the ``[]``, the probe finds the session gone."""
    world = World.generate(11, SMALL)
    _, faults, _, c, acc, ids = await _session(world)
    async with c:
        want = await c.client.act("GET_STUDENT_GROUPS", ids, account=acc)
        assert want != []

        runs = 0

        async def run(ask: Ask) -> list[list[JsValue]]:
            nonlocal runs
            runs += 1
            first = await ask("GET_STUDENT_PARALLEL", ids)
            if runs == 1:
                faults.update({"expire_sessions": 1})
            return [first, await ask("GET_STUDENT_GROUPS", ids)]

        relogins = c.client.relogins
        assert await c.client.confirmed(acc, run) == [[], want]
        assert c.client.relogins == relogins + 1 and runs == 2


async def test_a_session_lost_again_in_the_replay_is_an_error() -> None:
    world = World.generate(11, SMALL)
    _, faults, _, c, acc, ids = await _session(world)
    async with c:
        await c.client.act("GET_PERIODS", account=acc)  # the cookies work on this server
        faults.update({"expire_sessions": 20})
        with pytest.raises(SessionExpired):
            await c.client.confirmed(acc, lambda ask: _parallel_then_class(ask, ids))


async def test_subgroups_unavailable_only_when_no_pupil_has_them(tmp_path: object) -> None:
    """Primary classes have no subgroups: their pupils' ``[]`` is an answer, not a missing
    enrichment (the bench logged «GET_STUDENT_GROUPS … empty answer» for them). With no period
    marks yet either, nothing in the roster vouches for their two ``[]``: the pupil's journal
    is read there instead of a probe and kept for the journal page (still once per pupil)."""
    world = World.generate(11, WorldSize(grades=(3, 5), letters=1, students_per_class=3, weeks=2))
    accounts = world.accounts("school-1", "student")
    none = [
        a for a in accounts if not any(g.subgroup for g in world.groups_of_student(a.person_id))
    ]
    assert none and len(none) < len(accounts)
    store = Store.open(f"sqlite:///{tmp_path}/avers.db")
    try:
        with capture_logs() as logs:
            count = _Count(httpx.ASGITransport(app=create_app(world)))
            c = AversConnector(_target(accounts), transport=count, today=world.today, http=_FAST)
            async with c:
                result = await pull(store, c)
    finally:
        store.close()
    assert result.quarantined == 0
    assert not world.final_marks
    assert count.paths["/act/get_student_journal_data"] == len(accounts)
    assert count.paths["/act/get_user_data"] == 1  # the school's name; no probe
    warned = {e.get("action") for e in logs if e["event"].startswith("avers enrichment")}
    assert "GET_STUDENT_GROUPS" not in warned


def test_the_emulator_index_follows_the_world() -> None:
    """Answers from the index are the World's after a change (a pupil moved to the other
    subgroup: the diary shows the new subgroup's lessons)."""
    world = World.generate(11, SMALL)
    ix = rows.Index(world)
    pupil = _split_pupil(world).person_id
    year = world.schools["school-1"].year
    before = rows.diary_rows(ix, pupil, year.start, year.end)
    old = next(g for g in world.groups_of_student(pupil) if g.subgroup)
    other = next(
        g
        for gid in world.classes[old.class_id].group_ids
        if (g := world.groups[gid]).subject_id == old.subject_id and g.subgroup != old.subgroup
    )
    world.move_student(pupil, other.ext_id)
    after = rows.diary_rows(ix, pupil, year.start, year.end)
    fresh = rows.diary_rows(rows.Index(world), pupil, year.start, year.end)
    assert after == fresh and after != before


@pytest.mark.parametrize(
    "body",
    [
        '[["a new Date(2025,8,5,0,0,0,0) b", new Date(2025,8,5,0,0,0,0)]]',  # a date in a string
        '[["x\\\\" , new Date(2025,8,5)]]',
        "[[new Date(2025,8,5,0,0,0,0,0)]]",  # 8 arguments: an error
        "[[new Date(2025, 8,\n5)]]",  # a newline among the arguments
        '[[new Date(1,2,3], "$date":[2025,1,2)]]',  # a crafted marker
        '[["\\x41", new Date(2025,8,5,1,2,3,4)]]',  # a JavaScript-only escape
        "[[new Date(2025,8,5), new Date(2025,8,5)], [new Date(2025,1,30)]]",  # 30 February
    ],
)
def test_the_fast_reader_agrees_with_the_reference(body: str) -> None:
    try:
        want: object = parse_tokens(body)
    except ValueError as exc:
        want = type(exc)
    try:
        got: object = parse(body)
    except ValueError as exc:
        got = type(exc)
    assert got == want


def test_render_writes_what_the_general_writer_writes() -> None:
    rows_: list[JsValue] = [
        [date(2025, 9, 5), 1, 'Родная "страна"\n', None, True, 2.5, ["x", date(2025, 9, 5)]],
        [0, "", "\u2028\x7f\ud800", False, -3],
        [],
    ]
    want = "[\n" + ",\n ".join(_render_value(r) for r in rows_) + "\n]"
    assert render(rows_) == want
    assert render(rows_) == want  # the second time from the caches
