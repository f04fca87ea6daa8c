"""The NetSchool emulator over real HTTP: the student/parent diary, modes and faults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.netschool.emulator import NetSchoolEmulatorOptions, create_app
from connectors.sandbox.world import World
from core.codes import MarkValue
from tests.support.netschool_emu import (
    SIZE,
    Ctx,
    clock,
    ctx,
    find_group,
    login,
    login_admin,
    read_journal,
)

__all__ = ["clock", "ctx"]  # fixtures, re-exported for pytest


# -- student / parent diary -----------------------------------------------------------------


async def _login_student(ctx: Ctx, grade: int = 7) -> Any:
    w = ctx.world
    st = next(
        p
        for p in w.persons.values()
        if p.role == "student" and p.class_id and w.classes[p.class_id].grade == grade
    )
    assert (await login(ctx.client, w, st.login, st.password)).status_code == 200
    return st


async def test_diary_shows_lessons_marks_and_homework(ctx: Ctx) -> None:
    w = ctx.world
    st = await _login_student(ctx)
    init = (await ctx.client.get("/webapi/student/diary/init")).json()
    assert init["currentStudentId"] == 0
    assert init["students"][0]["studentId"] == st.ext_id
    types = {
        t["id"]: t["name"]
        for t in (
            await ctx.client.get("/webapi/grade/assignment/types", params={"all": "false"})
        ).json()
    }
    assert types[3] == "Домашнее задание" and types[10] == "Ответ на уроке"
    year = (await ctx.client.get("/webapi/years/current")).json()
    d = (
        await ctx.client.get(
            "/webapi/student/diary",
            params={
                "studentId": st.ext_id,
                "weekStart": "2026-09-07",
                "weekEnd": "2026-09-12",
                "yearId": year["id"],
            },
        )
    ).json()
    assert d["termName"] == "1 четверть"
    lessons = [le for day in d["weekDays"] for le in day["lessons"]]
    expected = [
        le
        for g in w.groups_of_student(st.ext_id)
        for lid in g.lesson_ids
        # the week asked for; the first school days (1–4 September) are the week before
        if "2026-09-07" <= (le := w.lessons[lid]).day.isoformat() <= "2026-09-12"
    ]
    assert sorted(le["classmeetingId"] for le in lessons) == sorted(le.ext_id for le in expected)
    for le in lessons:
        lesson = w.lessons[le["classmeetingId"]]
        for a in le.get("assignments", []):
            assert a["classMeetingId"] == lesson.ext_id
            wa = w.assignments[a["id"]]
            value = wa.marks.get(st.ext_id)
            if value is None:
                assert a["typeId"] == 3 and "mark" not in a
            elif value is MarkValue.DOT:
                assert a["mark"]["mark"] is None and a["mark"]["dutyMark"] is True
            else:
                assert a["mark"]["mark"] == int(value)
        shown = {a["id"] for a in le.get("assignments", [])}
        marked = {
            a.ext_id
            for a in w.lesson_assignments(lesson)
            if st.ext_id in a.marks or a.work_type == "homework"
        }
        assert shown == marked
    # a week without lessons has no weekDays key at all
    empty = (
        await ctx.client.get(
            "/webapi/student/diary",
            params={
                "studentId": st.ext_id,
                "weekStart": "2026-08-03",
                "weekEnd": "2026-08-08",
                "yearId": year["id"],
            },
        )
    ).json()
    assert "weekDays" not in empty
    # another student's diary is not available
    other = next(p for p in w.persons.values() if p.role == "student" and p.ext_id != st.ext_id)
    r = await ctx.client.get(
        "/webapi/student/diary",
        params={"studentId": other.ext_id, "weekStart": "2026-09-07", "weekEnd": "2026-09-12"},
    )
    assert r.status_code == 403


async def test_guardian_sees_the_child(ctx: Ctx) -> None:
    w = ctx.world
    gu = next(p for p in w.persons.values() if p.role == "guardian")
    assert (await login(ctx.client, w, gu.login, gu.password)).json()["accountInfo"]["userRoles"][
        0
    ]["role"]["name"] == "Родитель"
    init = (await ctx.client.get("/webapi/student/diary/init")).json()
    assert [s["studentId"] for s in init["students"]] == gu.children


@pytest.mark.parametrize("singular", [False, True])
async def test_assignment_details_teacher_vs_teachers(singular: bool) -> None:
    world = World.generate(7, SIZE)
    app = create_app(world, options=NetSchoolEmulatorOptions(teacher_singular=singular))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ns.test"
    ) as c:
        ctx = Ctx(world, app, c)
        st = await _login_student(ctx)
        a = next(
            a
            for g in world.groups_of_student(st.ext_id)
            for lid in g.lesson_ids
            for a in world.lesson_assignments(world.lessons[lid])
        )
        r = (
            await c.get(
                f"/webapi/student/diary/assigns/{a.ext_id}", params={"studentId": st.ext_id}
            )
        ).json()
        le = world.lessons[a.lesson_id]
        teacher = {"id": le.teacher_id, "name": world.persons[le.teacher_id].full_name}
        if singular:
            assert r["teacher"] == teacher and "teachers" not in r
        else:
            assert r["teachers"] == [teacher] and "teacher" not in r
        assert r["weight"] == round(a.weight * 10) and r["id"] == a.ext_id


async def test_security_warning_mode() -> None:
    world = World.generate(7, SIZE)
    app = create_app(world, options=NetSchoolEmulatorOptions(security_warning=True))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ns.test"
    ) as c:
        acc = world.accounts(role="student")[0]
        body = (await login(c, world, acc.login, acc.password)).json()
        assert body["entryPoint"] == "/asp/SecurityWarning.asp"
        r = await c.get("/webapi/student/diary/init")
        assert r.headers["content-type"].startswith("text/html")
        assert "/asp/SecurityWarning.asp" in r.text and len(r.content) < 1000
        ok = await c.post("/asp/SecurityWarning.asp", data={"at": c.headers["at"], "WarnType": 2})
        assert ok.status_code == 200
        assert (await c.get("/webapi/student/diary/init")).json()["students"]


async def test_esia_only_mode_has_no_salt() -> None:
    world = World.generate(7, SIZE)
    app = create_app(world, options=NetSchoolEmulatorOptions(esia_only=True))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ns.test"
    ) as c:
        info = (await c.get("/webapi/logindata")).json()
        assert info["esiaMainAuth"] is True and info["schoolLogin"] is False
        assert (await c.post("/webapi/auth/getdata")).json() == {}
        r = await c.post("/webapi/login", data={"LoginType": 1, "UN": "x", "pw2": "y"})
        assert r.status_code == 409


async def test_malformed_fault_corrupts_exactly_n_results(ctx: Ctx) -> None:
    await login_admin(ctx)
    g = find_group(ctx.world, 7, "Русский язык")
    clean = await read_journal(ctx, g)
    ctx.app.faults.malformed = 3
    bad = await read_journal(ctx, g)

    def results(body: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            r
            for cm in body["journals"][0]["classMeeting"]
            for a in cm["assignments"]
            for r in a["results"]
        ]

    diffs = [(a, b) for a, b in zip(results(clean), results(bad), strict=True) if a != b]
    assert len(diffs) == 3
    assert [b.get("mark") for _, b in diffs if "studentId" in b] == [7, 7]
    assert sum("studentId" not in b for _, b in diffs) == 1
    assert len(ctx.app.faults.corrupted) == 3 and ctx.app.faults.malformed == 0
    assert results(await read_journal(ctx, g)) == results(clean)  # the next payload is clean


async def test_sandbox_mutate_changes_the_world(ctx: Ctx) -> None:
    before = ctx.world.version
    r = await ctx.client.post("/_sandbox/world/mutate", json={"n": 4, "seed": 3})
    body = r.json()
    assert len(body["changes"]) == 4 and body["version"] > before
    assert sum(1 for _ in ctx.world.changed_lessons(before)) >= 1


async def test_paths_are_case_insensitive(ctx: Ctx) -> None:
    await login_admin(ctx)
    assert (await ctx.client.get("/WebApi/Years/Current")).status_code == 200
    assert (await ctx.client.get("/webapi/grade/attendance/Reasons")).status_code == 200


async def test_malformed_fault_in_the_diary(ctx: Ctx) -> None:
    st = await _login_student(ctx)
    params = {"studentId": st.ext_id, "weekStart": "2026-09-07", "weekEnd": "2026-09-19"}

    def marks(body: dict[str, Any]) -> list[int | None]:
        return [
            a["mark"]["mark"]
            for d in body["weekDays"]
            for le in d["lessons"]
            for a in le.get("assignments", [])
            if "mark" in a
        ]

    clean = marks((await ctx.client.get("/webapi/student/diary", params=params)).json())
    ctx.app.faults.malformed = 2
    bad = marks((await ctx.client.get("/webapi/student/diary", params=params)).json())
    assert len(clean) == len(bad) >= 2
    assert bad[:2] == [7, 7] and bad[2:] == clean[2:]


async def test_journal_without_sgid_lists_every_group_of_the_class(ctx: Ctx) -> None:
    await login_admin(ctx)
    g = find_group(ctx.world, 5, "Английский язык", 1)
    school = ctx.world.school("school-1")
    body = (
        await ctx.client.get(
            "/webapi/grade/journal",
            params={
                "yearId": school.year.ext_id,
                "classId": g.class_id,
                "grade": -1,
                "termId": school.periods[0].ext_id,
            },
        )
    ).json()
    assert [j["subjectGroupId"] for j in body["journals"]] == ctx.world.classes[
        g.class_id
    ].group_ids
