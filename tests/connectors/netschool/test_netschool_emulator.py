"""The NetSchool emulator over real HTTP: login, and the teacher journal."""

from __future__ import annotations

from hashlib import md5

from connectors.netschool._emulator_codes import WORK_TYPE_IDS
from connectors.sandbox.world import World
from core.codes import AttendanceCode, MarkValue
from core.model import Attendance, Homework, Lesson, Mark, Person
from tests.support.netschool_emu import (
    Ctx,
    FakeClock,
    clock,
    ctx,
    find_group,
    login,
    login_admin,
    pw_hash,
    read_journal,
)

__all__ = ["clock", "ctx"]  # fixtures, re-exported for pytest


async def test_login_with_cyrillic_password_sets_token_and_cookies(ctx: Ctx) -> None:
    admin = ctx.world.persons[ctx.world.school("school-1").admin_id]
    assert any("а" <= ch <= "я" or "А" <= ch <= "Я" for ch in admin.password)
    r = await login(ctx.client, ctx.world, admin.login, admin.password)
    assert r.status_code == 200
    body = r.json()
    assert body["at"].isdigit() and body["timeOut"] == 900_000
    assert body["accountInfo"]["user"]["id"] == admin.ext_id
    # a string, as in the real sample (note §2.2): netschoolpy 9.6.3 tests it with `in`
    assert body["entryPoint"] == "/app/school/journal/" and body["requestData"] is None
    assert "ESRNSec" in ctx.client.cookies and len(ctx.client.cookies["NSSESSIONID"]) == 32
    assert (await ctx.client.get("/webapi/years/current")).status_code == 200


async def test_utf8_hashed_cyrillic_password_is_rejected(ctx: Ctx) -> None:
    admin = ctx.world.persons[ctx.world.school("school-1").admin_id]
    c = ctx.client
    await c.get("/webapi/logindata")
    meta = (await c.post("/webapi/auth/getdata")).json()
    salt = meta.pop("salt")
    pw2 = md5((salt + md5(admin.password.encode()).hexdigest()).encode()).hexdigest()
    r = await c.post(
        "/webapi/login",
        data={
            "loginType": 1,
            "scid": ctx.world.school("school-1").ext_id,
            "un": admin.login,
            "pw2": pw2,
            **meta,
        },
    )
    assert r.status_code == 409


async def test_wrong_password_is_409_with_message(ctx: Ctx) -> None:
    acc = ctx.world.accounts(role="student")[0]
    r = await login(ctx.client, ctx.world, acc.login, acc.password + "x")
    assert r.status_code == 409
    assert r.json()["message"]
    assert "at" not in ctx.client.headers


async def test_lowercase_and_legacy_form_keys_are_accepted(ctx: Ctx) -> None:
    acc = ctx.world.accounts(role="student")[0]
    c = ctx.client
    await c.get("/webapi/logindata")
    meta = (await c.post("/webapi/auth/getdata")).json()
    pw2 = pw_hash(meta.pop("salt"), acc.password)
    form = {
        "logintype": "1",
        "cid": "2",
        "sid": "1",
        "pid": "-1",
        "cn": "3",
        "sft": "2",
        "SCID": str(ctx.world.school("school-1").ext_id),
        "un": acc.login,
        "pw2": pw2,
        **meta,
    }
    assert (await c.post("/WebApi/Login", data=form)).status_code == 200


async def test_salt_is_single_use(ctx: Ctx) -> None:
    acc = ctx.world.accounts(role="student")[0]
    c = ctx.client
    await c.get("/webapi/logindata")
    meta = (await c.post("/webapi/auth/getdata")).json()
    salt = meta.pop("salt")
    pw2 = pw_hash(salt, acc.password)
    form = {
        "LoginType": "1",
        "scid": str(ctx.world.school("school-1").ext_id),
        "UN": acc.login,
        "pw2": pw2,
        **meta,
    }
    bad = {**form, "pw2": pw_hash(salt, "wrong")}
    assert (await c.post("/webapi/login", data=bad)).status_code == 409
    # the right hash for the same salt no longer works: the salt was burnt by the failure
    assert (await c.post("/webapi/login", data=form)).status_code == 409
    meta2 = (await c.post("/webapi/auth/getdata")).json()
    assert meta2["salt"] != salt
    form2 = {**form, "pw2": pw_hash(meta2.pop("salt"), acc.password), **meta2}
    assert (await c.post("/webapi/login", data=form2)).status_code == 200
    assert (await c.post("/webapi/login", data=form2)).status_code == 409


async def test_salt_is_bound_to_the_session_cookie(ctx: Ctx) -> None:
    acc = ctx.world.accounts(role="student")[0]
    c = ctx.client
    await c.get("/webapi/logindata")
    meta = (await c.post("/webapi/auth/getdata")).json()
    pw2 = pw_hash(meta.pop("salt"), acc.password)
    c.cookies.clear()
    await c.get("/webapi/logindata")  # a different NSSESSIONID, no salt issued to it
    form = {
        "LoginType": "1",
        "scid": str(ctx.world.school("school-1").ext_id),
        "UN": acc.login,
        "pw2": pw2,
        **meta,
    }
    assert (await c.post("/webapi/login", data=form)).status_code == 409


async def test_missing_token_and_forced_expiry_give_401(ctx: Ctx) -> None:
    assert (await ctx.client.get("/webapi/years/current")).status_code == 401
    await login_admin(ctx)
    at = ctx.client.headers["at"]
    assert (await ctx.client.get(f"/webapi/context/expired?token={at}")).json() is False
    assert (await ctx.client.post("/_sandbox/sessions/expire")).json() == {"expired": 1}
    assert (await ctx.client.get("/webapi/years/current")).status_code == 401
    assert (await ctx.client.get(f"/webapi/context/expired?token={at}")).json() is True
    assert (await ctx.client.post("/webapi/auth/logout")).status_code == 401


async def test_idle_timeout_expires_and_activity_extends(ctx: Ctx, clock: FakeClock) -> None:
    await login_admin(ctx)
    clock.now += 800
    assert (await ctx.client.get("/webapi/context")).status_code == 200
    clock.now += 800  # 1600 s since login but only 800 s idle
    assert (await ctx.client.get("/webapi/context")).status_code == 200
    clock.now += 901
    assert (await ctx.client.get("/webapi/context")).status_code == 401


async def test_logout_then_401(ctx: Ctx) -> None:
    await login_admin(ctx)
    assert (await ctx.client.post("/webapi/auth/logout")).status_code == 200
    assert (await ctx.client.post("/webapi/auth/logout")).status_code == 401
    assert (await ctx.client.get("/webapi/context")).status_code == 401


async def test_schools_search_needs_name(ctx: Ctx) -> None:
    assert (await ctx.client.get("/webapi/schools/search")).status_code == 403
    found = (await ctx.client.get("/webapi/schools/search", params={"name": "У"})).json()
    school = ctx.world.school("school-1")
    assert [s["id"] for s in found] == [school.ext_id]
    assert found[0]["shortName"] == school.short_name
    none = await ctx.client.get("/webapi/schools/search", params={"name": "Лицей"})
    assert none.json() == []


# -- teacher / admin reads ------------------------------------------------------------------


async def test_admin_sees_all_classes_groups_terms_and_students(ctx: Ctx) -> None:
    await login_admin(ctx)
    school = ctx.world.school("school-1")
    classes = (await ctx.client.get("/webapi/users/teacher/classes")).json()
    assert [c["name"] for c in classes] == ["1А", "5А", "7А"]
    g = find_group(ctx.world, 5, "Английский язык", 2)
    sgs = (await ctx.client.get("/webapi/subjectgroups", params={"classId": g.class_id})).json()
    eng = [s for s in sgs if s["subjectName"] == "Английский язык"]
    assert sorted(s["subgroup"] for s in eng) == [1, 2]
    students = (
        await ctx.client.get(
            "/webapi/grade/studentList",
            params={"sgid": g.ext_id, "termId": school.periods[0].ext_id},
        )
    ).json()
    assert [s["id"] for s in students] == g.member_ids
    assert len(g.member_ids) == 3  # the other half of a class of 6
    terms = (
        await ctx.client.post(
            "/webapi/terms/search",
            json={"startPeriod": "2026-09-01", "endPeriod": "2027-05-31", "classIds": [g.class_id]},
        )
    ).json()
    assert [t["name"] for t in terms] == [f"{i} четверть" for i in range(1, 5)]
    assert terms[1]["startDate"] == "2026-11-05T00:00:00"
    reasons = (await ctx.client.get("/webapi/grade/attendance/reasons")).json()
    assert {r["mark"] for r in reasons} == {"ОТ", "УП", "Б", "НП", "ОП", "ОСВ"}
    year = (await ctx.client.get("/webapi/years/current")).json()
    assert year == {
        "id": school.year.ext_id,
        "name": "2026/2027",
        "startDate": "2026-09-01T00:00:00",
        "endDate": "2027-05-31T00:00:00",
    }


async def test_plain_teacher_sees_only_own_groups(ctx: Ctx) -> None:
    g = find_group(ctx.world, 7, "Алгебра")
    teacher = ctx.world.persons[g.teacher_ids[0]]
    assert (await login(ctx.client, ctx.world, teacher.login, teacher.password)).status_code == 200
    sgs = (await ctx.client.get("/webapi/subjectgroups", params={"classId": g.class_id})).json()
    assert g.ext_id in {s["id"] for s in sgs}
    assert all(teacher.ext_id in [t["id"] for t in s["teachers"]] for s in sgs)
    other = find_group(ctx.world, 7, "История")
    if teacher.ext_id not in other.teacher_ids:
        r = await ctx.client.get("/webapi/grade/studentList", params={"sgid": other.ext_id})
        assert r.status_code == 403


async def test_journal_equals_world_canonical(ctx: Ctx) -> None:
    await login_admin(ctx)
    g = find_group(ctx.world, 7, "Русский язык")
    body = await read_journal(ctx, g)
    [j] = body["journals"]
    assert j["subjectGroupId"] == g.ext_id
    assert [s["id"] for s in j["students"]] == g.member_ids
    records = ctx.world.canonical("school-1", "netschool")
    by_ext = {
        (r.ENTITY, r.provenance.external_ids.get("id")): r
        for r in records
        if r.provenance and "id" in r.provenance.external_ids
    }
    persons = {r.id: int(r.key.split(":")[1]) for r in records if isinstance(r, Person)}
    marks: dict[tuple[int, int], Mark] = {
        (int(r.provenance.external_ids["assignment"]), int(r.provenance.external_ids["student"])): r
        for r in records
        if isinstance(r, Mark) and r.provenance
    }
    assert len(j["classMeeting"]) == len(g.lesson_ids) > 0
    seen_marks = seen_att = seen_hw = 0
    for cm in j["classMeeting"]:
        lesson = by_ext[("lesson", str(cm["id"]))]
        assert isinstance(lesson, Lesson)
        assert cm["date"] == f"{lesson.date.isoformat()}T00:00:00"
        assert cm["number"] == lesson.number and cm["lessonName"] == lesson.topic
        assert persons[lesson.teacher_id or ""] == cm["teacherId"]
        ktp = {t.ext_id: t.name for t in g.ktp}
        assert ktp[cm["lessonId"]] == lesson.topic
        for a in cm["assignments"]:
            if a["typeId"] == 3:
                hw = by_ext[("homework", str(a["id"]))]
                assert isinstance(hw, Homework) and hw.text == a["assignmentName"]
                assert a["dueDate"] == f"{hw.due_date}T00:00:00"
                seen_hw += 1
            for res in a["results"]:
                m = marks[(a["id"], res["studentId"])]
                assert a["typeId"] == WORK_TYPE_IDS[m.work_type]
                assert a["weight"] == round(m.weight * 10)
                if m.value is MarkValue.DOT:
                    assert res["mark"] is None and res["duty"] is True
                else:
                    assert res["mark"] == int(m.value) and res["duty"] is False
                seen_marks += 1
        lesson_att = {
            persons[r.student_id]: r.code
            for r in records
            if isinstance(r, Attendance) and r.lesson_id == lesson.id
        }
        wire = {
            "ОТ": AttendanceCode.ABSENT,
            "УП": AttendanceCode.EXCUSED,
            "Б": AttendanceCode.ILL,
            "ОП": AttendanceCode.LATE,
            "ОСВ": AttendanceCode.RELEASED,
        }
        assert {x["studentId"]: wire[x["reason"]] for x in cm["attendance"]} == lesson_att
        seen_att += len(lesson_att)
    group_lessons = {
        r.id
        for r in records
        if isinstance(r, Lesson)
        and r.provenance
        and int(r.provenance.external_ids["id"]) in g.lesson_ids
    }
    assert seen_marks == sum(1 for m in marks.values() if m.lesson_id in group_lessons) > 0
    assert seen_hw > 0


async def test_grade_1_journal_has_no_marks_or_homework(ctx: Ctx) -> None:
    await login_admin(ctx)
    body = await read_journal(ctx, find_group(ctx.world, 1, "Математика"))
    meetings = body["journals"][0]["classMeeting"]
    assert meetings and all(cm["assignments"] == [] for cm in meetings)


async def test_subject_plan_lists_the_ktp(ctx: Ctx) -> None:
    await login_admin(ctx)
    g = find_group(ctx.world, 7, "Алгебра")
    plan = (
        await ctx.client.get("/webapi/subjectplans/getForSubjectGroup", params={"sgId": g.ext_id})
    ).json()
    assert [le["id"] for le in plan["lessons"]] == [t.ext_id for t in g.ktp]
    first = plan["lessons"][0]
    assert first["lessonName"] == g.ktp[0].name and first["hoursStudied"] == 1


# -- teacher writes -------------------------------------------------------------------------


def _canon_marks(world: World, lesson_id: int) -> dict[tuple[int, str, int], Mark]:
    out = {}
    for r in world.canonical("school-1", "netschool"):
        if isinstance(r, Mark) and r.provenance:
            a = world.assignments.get(int(r.provenance.external_ids["assignment"]))
            if a is not None and a.lesson_id == lesson_id:
                out[(int(r.provenance.external_ids["student"]), r.work_type, r.ordinal)] = r
    return out


async def test_quickedit_creates_updates_and_deletes_marks(ctx: Ctx) -> None:
    await login_admin(ctx)
    w = ctx.world
    g = find_group(w, 7, "Алгебра")
    le = w.lessons[g.lesson_ids[0]]
    s1, s2 = g.member_ids[:2]
    n_tests = sum(1 for a in w.lesson_assignments(le) if a.work_type == "test")
    r = await ctx.client.post(
        "/webapi/grade/journal/quickedit",
        json={
            "sgId": g.ext_id,
            "attendance": [],
            "results": [
                {
                    "cmId": le.ext_id,
                    "assignId": None,
                    "assignTypeId": 4,
                    "studentId": s1,
                    "mark": 5,
                },
                {
                    "cmId": le.ext_id,
                    "assignId": None,
                    "assignTypeId": 4,
                    "studentId": s2,
                    "mark": None,
                    "dutyMark": True,
                },
            ],
        },
    )
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    new_id = rows[0]["assignId"]
    assert rows[1]["assignId"] == new_id  # one new column for the lesson × type
    body = await read_journal(ctx, g)
    cm = next(c for c in body["journals"][0]["classMeeting"] if c["id"] == le.ext_id)
    a = next(a for a in cm["assignments"] if a["id"] == new_id)
    assert a["typeId"] == 4 and a["weight"] == 20 and a["assignmentName"] == "Контрольная работа"
    assert {x["studentId"]: (x["mark"], x["duty"]) for x in a["results"]} == {
        s1: (5, False),
        s2: (None, True),
    }
    canon = _canon_marks(w, le.ext_id)
    assert canon[(s1, "test", n_tests + 1)].value is MarkValue.FIVE
    assert canon[(s2, "test", n_tests + 1)].value is MarkValue.DOT
    # update then delete, reusing the assignment id a retry would send
    r = await ctx.client.post(
        "/webapi/grade/journal/quickedit",
        json={
            "sgId": g.ext_id,
            "results": [
                {
                    "cmId": le.ext_id,
                    "assignId": new_id,
                    "assignTypeId": 4,
                    "studentId": s1,
                    "mark": 3,
                },
                {
                    "cmId": le.ext_id,
                    "assignId": new_id,
                    "assignTypeId": 4,
                    "studentId": s2,
                    "mark": None,
                },
            ],
        },
    )
    assert r.status_code == 200
    canon = _canon_marks(w, le.ext_id)
    assert canon[(s1, "test", n_tests + 1)].value is MarkValue.THREE
    assert (s2, "test", n_tests + 1) not in canon
    edit = (
        await ctx.client.get(
            "/webapi/grade/journal/edit",
            params={
                "cmid": le.ext_id,
                "sgId": g.ext_id,
                "termId": w.school("school-1").periods[0].ext_id,
            },
        )
    ).json()
    col = next(a for a in edit["assignments"] if a["id"] == new_id)
    assert col["results"] == [{"studentId": s1, "mark": 3, "duty": False}]


async def test_quickedit_rejects_a_bad_row_and_changes_nothing(ctx: Ctx) -> None:
    await login_admin(ctx)
    w = ctx.world
    g = find_group(w, 7, "Алгебра")
    le = w.lessons[g.lesson_ids[0]]
    before = w.version
    outsider = next(
        s for s in w.persons.values() if s.role == "student" and s.ext_id not in g.member_ids
    )
    r = await ctx.client.post(
        "/webapi/grade/journal/quickedit",
        json={
            "sgId": g.ext_id,
            "results": [
                {
                    "cmId": le.ext_id,
                    "assignId": None,
                    "assignTypeId": 10,
                    "studentId": g.member_ids[0],
                    "mark": 5,
                },
                {
                    "cmId": le.ext_id,
                    "assignId": None,
                    "assignTypeId": 10,
                    "studentId": outsider.ext_id,
                    "mark": 4,
                },
            ],
        },
    )
    assert r.status_code == 400 and r.json()["message"]
    r = await ctx.client.post(
        "/webapi/grade/journal/quickedit",
        json={
            "sgId": g.ext_id,
            "results": [
                {
                    "cmId": le.ext_id,
                    "assignId": None,
                    "assignTypeId": 10,
                    "studentId": g.member_ids[0],
                    "mark": 6,
                }
            ],
        },
    )
    assert r.status_code == 400
    assert w.version == before


async def test_journal_edit_post_sets_attendance_and_binds_a_ktp_topic(ctx: Ctx) -> None:
    await login_admin(ctx)
    w = ctx.world
    g = find_group(w, 7, "Физика")
    le = w.lessons[g.lesson_ids[1]]
    topic = g.ktp[10]
    sids = g.member_ids
    reasons = ["ОТ", "", "Б", "НП"] + [""] * (len(sids) - 4)
    form = [
        ("sgid", str(g.ext_id)),
        ("cmid", str(le.ext_id)),
        ("lessonId", str(topic.ext_id)),
        ("saveJournal", "1"),
    ]
    form += [("SID", str(s)) for s in sids] + [("REASON", r) for r in reasons]
    r = await ctx.client.post(
        "/webapi/grade/journal/edit",
        content="&".join(f"{k}={v}" for k, v in form).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    assert le.topic == topic.name
    assert le.attendance == {
        sids[0]: AttendanceCode.ABSENT,
        sids[2]: AttendanceCode.ILL,
        sids[3]: AttendanceCode.ABSENT,
    }
    canon = w.canonical("school-1", "netschool")
    lesson = next(
        x
        for x in canon
        if isinstance(x, Lesson)
        and x.provenance
        and x.provenance.external_ids["id"] == str(le.ext_id)
    )
    assert lesson.topic == topic.name
    assert len([x for x in canon if isinstance(x, Attendance) and x.lesson_id == lesson.id]) == 3
    body = await read_journal(ctx, g)
    cm = next(c for c in body["journals"][0]["classMeeting"] if c["id"] == le.ext_id)
    assert cm["lessonId"] == topic.ext_id and cm["lessonName"] == topic.name
    assert {x["studentId"]: x["reason"] for x in cm["attendance"]} == {
        sids[0]: "ОТ",
        sids[2]: "Б",
        sids[3]: "ОТ",
    }
    # -2 = topic unchanged; clearing attendance by sending "" for everyone
    form2 = {
        "sgid": g.ext_id,
        "cmid": le.ext_id,
        "lessonId": -2,
        "saveJournal": 1,
        "SID": sids,
        "REASON": [""] * len(sids),
    }
    assert (await ctx.client.post("/webapi/grade/journal/edit", data=form2)).status_code == 200
    assert le.attendance == {} and le.topic == topic.name
    # a topic that is not in this group's КТП is refused
    other = find_group(w, 7, "Алгебра").ktp[0].ext_id
    bad = {"sgid": g.ext_id, "cmid": le.ext_id, "lessonId": other}
    assert (await ctx.client.post("/webapi/grade/journal/edit", data=bad)).status_code == 400


async def test_students_cannot_use_teacher_endpoints(ctx: Ctx) -> None:
    acc = ctx.world.accounts(role="student")[0]
    assert (await login(ctx.client, ctx.world, acc.login, acc.password)).status_code == 200
    assert (await ctx.client.get("/webapi/users/teacher/classes")).status_code == 403
