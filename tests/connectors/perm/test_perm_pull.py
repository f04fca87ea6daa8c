"""ЭПОС school pull: pagination bases, hosts, work types, «точка», homework attachments,
finals, quarantine, incremental windows."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from connectors.perm._paging import PageBase, fetch_all
from connectors.perm.emulator import PermEmulatorOptions
from connectors.perm.schema import ScheduleItem, StudentHomework, format_ddmmyyyy, parse_day
from core.codes import MarkValue
from core.connector import PullMode
from core.model import FinalMark, Homework, Mark
from core.sync import pull
from tests.connectors.perm.test_perm_support import FAST, LONG, make_env


@pytest.mark.parametrize("base", [0, 1])
async def test_both_page_bases_give_the_whole_journal(tmp_path, base):
    env = make_env(tmp_path, options=PermEmulatorOptions(page_base=base))
    env.options["per_page"] = 3  # every list spans several pages
    async with env.connector() as c:
        await pull(env.store, c)
        assert c.sessions[0]._paging.value == base
    assert env.differences() == ""


async def test_paging_stops_on_a_short_or_repeated_page():
    data = list(range(7))

    def server(first: int, size: int, ignore_page: bool = False):
        calls: list[int] = []

        async def fetch(page: int) -> list[int]:
            calls.append(page)
            index = 0 if ignore_page else max(page, first) - first
            return data[index * size : index * size + size]

        return fetch, calls

    for first in (0, 1):
        fetch, calls = server(first, 3)
        base = PageBase()
        assert await fetch_all(fetch, 3, base) == data and base.value == first
        assert await fetch_all(fetch, 3, base) == data  # the learned base is used directly
    fetch, calls = server(1, 3, ignore_page=True)
    assert await fetch_all(fetch, 3, PageBase(1)) == data[:3] and len(calls) == 2
    fetch, calls = server(0, 10)
    assert await fetch_all(fetch, 10, PageBase()) == data and calls == [0]


async def test_current_host_sends_browser_like_credentials(tmp_path):
    env = make_env(tmp_path)
    async with env.connector(env.target(host="current")) as c:
        await c.login()
        http = c.sessions[0].http.client
        assert http.headers["Origin"] == "http://epos.test"
        assert http.cookies.get("auth_token") == http.headers["auth-token"]
    await env.pull(env.target(host="current"))
    assert env.differences() == ""


def test_date_spellings():
    assert format_ddmmyyyy(date(2026, 9, 1)) == "01.09.2026"
    for spelling in (
        "01.09.2026",
        " 1.9.2026 ",
        "2026-09-01",
        " 2026-09-01",
        "2026-09-01T08:30:00",
        [2026, 9, 1],
    ):
        assert parse_day(spelling) == date(2026, 9, 1)
    assert parse_day("") is None
    for wrong in ("09/01/2026", "2026-13-01", "2026-09-0x"):
        with pytest.raises(ValueError):
            parse_day(wrong)


async def test_date_formats_both_ways(tmp_path):
    env = make_env(tmp_path)
    async with env.connector() as c:
        await c.login()
        session = c.sessions[0]
        student = session.identity.student_ids[0]
        start, end = date(2026, 9, 1), date(2026, 9, 30)
        marks = await session.marks(student, start, end)
        items = await session.schedule_items(student, [], start, end)
        homework = await session.homeworks(student, start, end)
        assert marks and items and homework
        # The emulator rejects the other spelling (400 = "unauthorized" for the client).
        raw = await session.http.client.get(
            "/core/api/marks", params={"created_at_from": "2026-09-01"}
        )
        assert raw.status_code == 400
        raw = await session.http.client.get(
            "/jersey/api/schedule_items", params={"from": "01.09.2026"}
        )
        assert raw.status_code == 400
    hw = next(h for h in homework if isinstance(h, StudentHomework))
    info = hw.homework_entry.homework
    assert info.date_prepared_for and info.date_assigned_on  # parsed from DD.MM.YYYY
    assert all(isinstance(i, ScheduleItem) and i.date.year == 2026 for i in items)  # [y, m, d]


async def test_work_types_points_and_weights(tmp_path):
    env = make_env(tmp_path)
    world = env.world
    lesson = next(le for le in world.lessons.values() if world.lesson_assignments(le))
    student = world.groups[lesson.group_id].member_ids[0]
    world.set_mark(lesson.ext_id, student, "independent", MarkValue.DOT)
    world.set_mark(lesson.ext_id, student, "dictation", MarkValue.FOUR)
    await env.pull()
    assert env.differences() == ""
    marks = [m for m in env.store.remote_records(env.school, "perm", "mark") if isinstance(m, Mark)]
    assert {"independent", "dictation"} <= {m.work_type for m in marks}
    dot = next(m for m in marks if m.work_type == "independent" and m.value is MarkValue.DOT)
    assert dot.weight == 2.0  # 1.5 in the world, an integer on the platform
    assert dot.provenance is not None and "point_date" in dot.provenance.external_ids


async def test_unknown_control_form_is_quarantined(tmp_path):
    from connectors.perm import _emulator_render

    env = make_env(tmp_path)
    old = _emulator_render.CONTROL_FORMS["answer"]
    _emulator_render.CONTROL_FORMS["answer"] = (old[0], "Работа с картой контуров")
    try:
        result = await env.pull()
    finally:
        _emulator_render.CONTROL_FORMS["answer"] = old
    rows = env.store.quarantined(env.school, "perm")
    assert result.quarantined == len(rows) > 0
    assert {r.field for r in rows} == {"control_form_name"}
    assert all("работа с картой" in r.reason for r in rows)


async def test_homework_attachments_are_pulled_with_download_urls(tmp_path):
    env = make_env(tmp_path)
    homework = [a for a in env.world.assignments.values() if a.work_type == "homework"]
    hw = next(a for a in homework if a.ext_id % 5)  # one without a derived file
    env.app.add_attachment(hw.ext_id, "задание 1.pdf", 12345)
    await env.pull()
    pulled = {
        int(h.provenance.external_ids["homework_id"]): h
        for h in env.store.remote_records(env.school, "perm", "homework")
        if isinstance(h, Homework) and h.attachments and h.provenance
    }
    # by default every fifth homework carries a file; plus the one the test added
    derived = {a.ext_id for a in homework if a.ext_id % 5 == 0}
    assert derived and set(pulled) == derived | {hw.ext_id}
    (att,) = pulled[hw.ext_id].attachments
    assert att.name == "задание 1.pdf" and att.size == 12345
    assert att.url == (
        f"http://epos.test/system/attachments/{hw.ext_id}/"
        "%D0%B7%D0%B0%D0%B4%D0%B0%D0%BD%D0%B8%D0%B5%201.pdf"
    )
    some = min(derived)
    (own,) = pulled[some].attachments
    # the URL downloads the file, as the public clients fetch it (note §4.6)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app)) as http:
        got = await http.get(att.url)
        assert got.status_code == 200 and len(got.content) == 12345
        missing = await http.get(att.url.replace("%201.pdf", "%202.pdf"))
        assert missing.status_code == 404
        got = await http.get(own.url)
        assert got.status_code == 200 and len(got.content) == own.size
        assert got.content.decode() == f"Задание к уроку: {env.world.assignments[some].name}\n"


async def test_homework_files_can_be_switched_off(tmp_path):
    env = make_env(tmp_path, options=PermEmulatorOptions(homework_files=False))
    await env.pull()
    assert not [
        h
        for h in env.store.remote_records(env.school, "perm", "homework")
        if isinstance(h, Homework) and h.attachments
    ]


async def test_finals_come_from_the_progress_report(tmp_path):
    env = make_env(tmp_path, size=LONG)
    assert env.world.final_marks, "nine weeks close the first quarter"
    await env.pull()
    assert env.differences() == ""
    finals = list(env.store.remote_records(env.school, "perm", "final_mark"))
    assert len(finals) == len(env.world.final_marks)
    assert all(isinstance(f, FinalMark) for f in finals)


async def test_malformed_mark_is_quarantined_and_siblings_keep_their_ordinals(tmp_path):
    env = make_env(tmp_path)
    env.faults.update({"malformed": 2})
    result = await env.pull()
    rows = env.store.quarantined(env.school, "perm")
    assert result.quarantined == 2 == len(rows)
    assert {r.entity for r in rows} == {"mark"} and {r.field for r in rows} == {"name"}
    assert all(r.record.startswith("mark:") for r in rows)
    diff = env.differences()
    assert "differ" in diff and ", 0 differ" in diff and "extra {}" in diff


async def test_incremental_pull_reads_the_weeks_around_today(tmp_path):
    env = make_env(tmp_path, size=LONG)
    await env.pull()
    first_lesson = min(env.world.lessons.values(), key=lambda le: le.day)
    last_lesson = max(env.world.lessons.values(), key=lambda le: le.day)
    env.world.set_topic(first_lesson.ext_id, "Старая тема, изменённая задним числом")
    env.world.set_topic(last_lesson.ext_id, "Новая тема")
    result = await env.pull(mode=PullMode.INCREMENTAL)
    assert result.updated == 1  # only the recent change is inside the window
    assert "1 differ" in env.differences()
    await env.pull()  # the full reconcile catches the old one
    assert env.differences() == ""


async def test_pull_over_a_loopback_socket_with_its_own_transport(tmp_path):
    """The connector's own transport (no injection), shared by every account's client."""
    from dataclasses import replace

    import httpx

    from connectors.perm import PermConnector
    from connectors.sandbox.server import serve_in_thread

    env = make_env(tmp_path)
    with serve_in_thread(env.app) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            listed = (await http.get("/_sandbox/accounts")).json()
        assert {"role", "profile_id", "mobile_token"} <= set(listed[0])
        target = replace(env.target(), base_url=server.base_url)
        async with PermConnector(
            target, state=env.saved, save_state=env.save, today=env.world.today, http=FAST
        ) as c:
            await pull(env.store, c)
    assert env.differences(server.base_url) == ""


async def test_the_student_profile_carries_the_notes_fields(tmp_path):
    """Note §4.3: P4's fields always; the МЭШ lists (curricula, marks, final_marks, subjects,
    parents, ec/ae attendances) — the optional lists when their ``with_*`` option asks."""
    env = make_env(tmp_path, size=LONG)
    st = next(p for p in env.world.persons.values() if p.role == "student")
    token = env.app.issue_auth_token(st.ext_id)
    headers = {"auth-token": token, "profile-id": str(st.ext_id)}
    every = {f"with_{k}": "true" for k in ("marks", "final_marks", "subjects", "parents")}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url="http://epos.test"
    ) as http:
        bare = (await http.get(f"/core/api/student_profiles/{st.ext_id}", headers=headers)).json()
        full = (
            await http.get(f"/core/api/student_profiles/{st.ext_id}", headers=headers, params=every)
        ).json()
    lists = ("groups", "attendances", "marks", "final_marks", "subjects", "parents")
    for key in (*lists, "curricula", "class_unit", "ec_attendances", "ae_attendances"):
        assert key in bare and key in full, key
    assert bare["groups"] and not bare["marks"] and not bare["final_marks"] and not bare["parents"]
    cls = env.world.classes[st.class_id]
    assert full["curricula"]["class_level_id"] == cls.grade == full["class_unit"]["class_level_id"]
    # marks: the /core/api/marks items of this student; finals: the world's quarter marks
    own = sum(1 for a in env.world.assignments.values() if st.ext_id in a.marks)
    assert len(full["marks"]) == own > 0
    assert {m["student_profile_id"] for m in full["marks"]} == {st.ext_id}
    finals = {(k[1], k[2]): v for k, v in env.world.final_marks.items() if k[0] == st.ext_id}
    assert finals and len(full["final_marks"]) == len(finals)
    for f in full["final_marks"]:
        assert MarkValue(f["value"]) == finals[(f["subject_id"], f["period_id"])]
        assert f["period_name"] == "1 четверть"
    assert [p["id"] for p in full["parents"]] == st.guardian_ids
    assert all(p["type"] == "parent" and p["name"] for p in full["parents"])
    assert {s["name"] for s in full["subjects"]} == {g["subject_name"] for g in full["groups"]}
