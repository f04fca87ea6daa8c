"""The sandbox operator endpoint: a worklist entered into the World as a teacher would."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectors.sandbox.operator import APPLY_PATH, operator_routes
from connectors.sandbox.world import LessonInfo, World, WorldSize
from core.codes import AttendanceCode, MarkValue
from core.worklist import Block, Entry, Worklist, to_json

SLUG = "school-1"


@pytest.fixture
def world() -> World:
    return World.generate(5, WorldSize(grades=(8,), letters=1, students_per_class=8, weeks=1))


@pytest.fixture
async def http(world: World) -> Any:
    app = Starlette(routes=operator_routes(world))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://op.test") as client:
        yield client


def _lesson(world: World) -> tuple[LessonInfo, list[int]]:
    for le in sorted(world.lessons.values(), key=lambda le: le.ext_id):
        g = world.groups[le.group_id]
        marked = {st for a in world.lesson_assignments(le) for st in a.marks}
        free = [s for s in g.member_ids if s not in marked and s not in le.attendance]
        no_hw = not any(a.work_type == "homework" for a in world.lesson_assignments(le))
        if g.subgroup == 0 and len(free) >= 2 and no_hw:
            return le, free
    raise AssertionError("no suitable lesson")


def _entry(kind: Any, value: str, student: str | None = None, **kw: Any) -> Entry:
    return Entry(
        kind=kind,
        op=kw.pop("op", "upsert"),
        entity={"topic": "lesson"}.get(kind, kind),
        record_id=f"rec-{kind}-{value}",
        keys=("k",),
        value=value,
        label=value,
        student=student,
        **kw,
    )


def _worklist(world: World, le: LessonInfo, entries: list[Entry], **block: Any) -> Worklist:
    g = world.groups[le.group_id]
    fields: dict[str, Any] = {
        "class_name": world.classes[g.class_id].name,
        "subject": world.subjects[g.subject_id].name,
        "date": le.day,
        "number": le.number,
        **block,
    }
    return Worklist(
        school=SLUG,
        platform="kiasuo",
        teacher_id=None,
        teacher="Учитель",
        generated_at=datetime(2026, 9, 10, tzinfo=UTC),
        blocks=(Block(entries=tuple(entries), **fields),),
    )


async def _apply(http: httpx.AsyncClient, wl: Worklist, mistype: int = 0) -> dict[str, Any]:
    resp = await http.post(APPLY_PATH, json={"worklist": to_json(wl), "mistype": mistype})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_entries_change_the_world(world: World, http: httpx.AsyncClient) -> None:
    le, (s1, s2) = _lesson(world)[0], _lesson(world)[1][:2]
    name1, name2 = world.persons[s1].full_name, world.persons[s2].full_name
    before = world.version
    wl = _worklist(
        world,
        le,
        [
            _entry("topic", "Решение задач"),
            _entry("homework", "№ 15, 16", due_date=date(2026, 9, 20), ordinal=1),
            _entry("mark", "5", f"  {name1.upper()} ", work_type="test", weight=2.0, ordinal=1),
            _entry("attendance", "ill", name2),
        ],
    )
    body = await _apply(http, wl)
    assert body == {"applied": 4, "mistyped": [], "skipped": [], "version": world.version}
    assert world.version > before
    assert le.topic == "Решение задач"
    (hw,) = [a for a in world.lesson_assignments(le) if a.work_type == "homework"]
    assert (hw.name, hw.due_date) == ("№ 15, 16", date(2026, 9, 20))
    tests = [a for a in world.lesson_assignments(le) if a.work_type == "test"]
    assert tests[0].marks[s1] == MarkValue.FIVE
    assert le.attendance[s2] == AttendanceCode.ILL


async def test_mistype_enters_another_value_for_marks_first(
    world: World, http: httpx.AsyncClient
) -> None:
    le, free = _lesson(world)
    s1, s2 = free[:2]
    wl = _worklist(
        world,
        le,
        [
            _entry("attendance", "absent", world.persons[s2].full_name),
            _entry("mark", "5", world.persons[s1].full_name, work_type="answer", ordinal=1),
        ],
    )
    body = await _apply(http, wl, mistype=1)
    assert body["mistyped"] == ["rec-mark-5"] and body["applied"] == 2
    answers = [a for a in world.lesson_assignments(le) if a.work_type == "answer"]
    assert answers[0].marks[s1] == MarkValue.FOUR
    assert le.attendance[s2] == AttendanceCode.ABSENT


async def test_delete_entries(world: World, http: httpx.AsyncClient) -> None:
    le, free = _lesson(world)
    st = free[0]
    world.set_mark(le.ext_id, st, "answer", MarkValue.TWO)
    world.set_attendance(le.ext_id, st, AttendanceCode.LATE)
    name = world.persons[st].full_name
    wl = _worklist(
        world,
        le,
        [
            _entry("mark", "2", name, op="delete", work_type="answer", ordinal=1),
            _entry("attendance", "late", name, op="delete"),
        ],
    )
    assert (await _apply(http, wl))["applied"] == 2
    assert all(st not in a.marks for a in world.lesson_assignments(le))
    assert st not in le.attendance


async def test_what_a_teacher_cannot_find_is_skipped_without_names(
    world: World, http: httpx.AsyncClient
) -> None:
    le, free = _lesson(world)
    name = world.persons[free[0]].full_name
    version = world.version
    cases: list[tuple[dict[str, Any], str]] = [
        ({"class_name": "11Я"}, "no such class/subject/subgroup on the platform"),
        ({"subject": "Астрология"}, "no such class/subject/subgroup on the platform"),
        ({"number": 9}, "no lesson on that date with that number"),
        ({"class_name": "восьмой"}, "class name not recognised"),
    ]
    for block, reason in cases:
        wl = _worklist(world, le, [_entry("mark", "5", name, work_type="answer")], **block)
        body = await _apply(http, wl)
        assert body["applied"] == 0
        assert body["skipped"] == [{"record_id": "rec-mark-5", "reason": reason}]
    wl = _worklist(world, le, [_entry("mark", "5", "Нетова Нета Нетовна", work_type="answer")])
    (skip,) = (await _apply(http, wl))["skipped"]
    assert skip["reason"] == "student not found in the group"
    assert "Нетова" not in str(skip) and name not in str(skip)
    assert world.version == version


async def test_bad_requests(world: World, http: httpx.AsyncClient) -> None:
    le, _ = _lesson(world)
    assert (await http.post(APPLY_PATH, content=b"not json")).status_code == 400
    assert (await http.post(APPLY_PATH, json={"mistype": 1})).status_code == 400
    resp = await http.post(APPLY_PATH, json={"worklist": {"format": "other"}})
    assert resp.status_code == 400 and "not a worklist" in resp.json()["message"]
    other = to_json(_worklist(world, le, []))
    other["school"] = "no-such-school"
    assert (await http.post(APPLY_PATH, json={"worklist": other})).status_code == 404
    assert (await http.get(APPLY_PATH)).status_code == 405
