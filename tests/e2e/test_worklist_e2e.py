"""The worklist loop end to end, over real HTTP against the NetSchool emulator.

The connector here is a test double of *capabilities only*: NetSchool with the ``worklist``
channel instead of its API, standing in for the platforms that have no write API (their
emulators mount the same operator routes). The pull is the real NetSchool pull.

pull → local paper-journal entries → reconcile (queued on ``worklist``) → push (awaiting entry)
→ worklists (XLSX, PDF, JSON) → a "teacher" enters them through the operator endpoint with one
typo → pull → reconcile: all verified but the typo, which is a mismatch finding.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from starlette.applications import Starlette
from starlette.routing import Mount

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.sandbox.operator import APPLY_PATH, operator_routes
from connectors.sandbox.world import LessonInfo, World, WorldSize
from core.codes import AttendanceCode, MarkValue
from core.connector import ChannelCapability, Credentials, PushChannel, SchoolTarget
from core.model import Attendance, Homework, Lesson, Mark, Record
from core.store import Store
from core.sync import pull, push, reconcile
from core.worklist import build_worklists, from_json, to_json, write_pdf, write_xlsx

SLUG = "school-1"
PLATFORM = "netschool"
SIZE = WorldSize(grades=(6, 9), letters=1, students_per_class=10, weeks=1)


class WorklistOnlyNetSchool(NetSchoolConnector):
    """NetSchool as if it had no write API (capabilities differ; the HTTP pull is real)."""

    capabilities = replace(
        NetSchoolConnector.capabilities,
        push=(
            ChannelCapability(
                channel=PushChannel.WORKLIST,
                entities=frozenset({"mark", "attendance", "lesson", "homework"}),
                evidence="test double: entries are made by hand from the worklist",
                verified=False,
            ),
        ),
    )


@pytest.fixture
def world() -> World:
    return World.generate(11, SIZE)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store.open(f"sqlite:///{tmp_path / 'journal.db'}")
    yield s
    s.close()


def _transport(world: World) -> httpx.ASGITransport:
    app = Starlette(routes=[*operator_routes(world), Mount("/", app=create_app(world))])
    return httpx.ASGITransport(app=app)


def _connector(world: World, transport: httpx.AsyncBaseTransport) -> WorklistOnlyNetSchool:
    admin = world.accounts(school=SLUG, role="admin")[0]
    target = SchoolTarget(
        school=SLUG,
        platform=PLATFORM,
        base_url="http://netschool.test",
        credentials=Credentials(login=admin.login, password=admin.password),
        platform_school=world.school(SLUG).short_name,
    )
    return WorklistOnlyNetSchool(target, transport=transport, today=world.today)


def _past_lessons(world: World) -> list[LessonInfo]:
    """Lessons already given, of whole-class groups, two different teachers first."""
    lessons = [
        le
        for le in sorted(world.lessons.values(), key=lambda le: (le.day, le.number, le.ext_id))
        if le.day <= world.today
        and world.groups[le.group_id].subgroup == 0
        and len(_free(world, le)) >= 3
        and not any(a.work_type == "homework" for a in world.lesson_assignments(le))
    ]
    first = lessons[0]
    second = next(le for le in lessons if le.teacher_id != first.teacher_id)
    return [first, second]


def _free(world: World, le: LessonInfo) -> list[int]:
    """Students of the lesson with no mark and no attendance entry on it."""
    marked = {st for a in world.lesson_assignments(le) for st in a.marks}
    members = world.groups[le.group_id].member_ids
    return [st for st in members if st not in marked and st not in le.attendance]


def _free_students(world: World, le: LessonInfo, n: int) -> list[int]:
    free = _free(world, le)
    assert len(free) >= n
    return free[:n]


def _answer_slot(world: World, le: LessonInfo) -> tuple[int, float]:
    """(ordinal, weight) a teacher's «ответ на уроке» mark lands in on this lesson."""
    answers = sorted(
        (a for a in world.lesson_assignments(le) if a.work_type == "answer"),
        key=lambda a: a.ext_id,
    )
    return (1, answers[0].weight) if answers else (1, 1.0)


def _local_entries(world: World, store: Store) -> list[Record]:
    """A paper journal kept during an outage: marks, attendance, a topic, a homework."""
    # the world's canonical ids are the ids a pull yields (conformance), so ext ids map over
    by_ext = {
        (r.ENTITY, r.provenance.external_ids.get("id")): r
        for r in world.canonical(SLUG, PLATFORM)
        if r.ENTITY in ("lesson", "person") and r.provenance is not None
    }
    remote = {r.id: r for r in store.remote_records(SLUG, PLATFORM, "lesson")}

    def lesson(le: LessonInfo) -> Lesson:
        rec = remote[by_ext[("lesson", str(le.ext_id))].id]
        assert isinstance(rec, Lesson)
        return rec

    def person(ext: int) -> str:
        return by_ext[("person", str(ext))].id

    le1, le2 = _past_lessons(world)
    l1, l2 = lesson(le1), lesson(le2)
    s1, s2, s3 = _free_students(world, le1, 3)
    (t1,) = _free_students(world, le2, 1)
    ord1, w1 = _answer_slot(world, le1)
    ord2, w2 = _answer_slot(world, le2)
    hw = [a for a in world.lesson_assignments(le2) if a.work_type == "homework"]
    assert not hw, "the chosen lesson must have no homework yet"
    return [
        Mark(school=SLUG, student_id=person(s1), lesson_id=l1.id, work_type="answer",
             ordinal=ord1, value=MarkValue.FIVE, weight=w1),
        Mark(school=SLUG, student_id=person(s2), lesson_id=l1.id, work_type="answer",
             ordinal=ord1, value=MarkValue.THREE, weight=w1),
        Attendance(school=SLUG, student_id=person(s3), lesson_id=l1.id, code=AttendanceCode.ILL),
        Mark(school=SLUG, student_id=person(t1), lesson_id=l2.id, work_type="answer",
             ordinal=ord2, value=MarkValue.FOUR, weight=w2),
        Lesson.model_validate({**l2.data(), "topic": "Повторение: дроби и проценты"}),
        Homework(school=SLUG, lesson_id=l2.id, ordinal=1, text="§ 12, упражнения 3–5",
                 due_date=l2.date + timedelta(days=7)),
    ]  # fmt: skip


async def test_worklist_round_trip_shows_a_typo_as_drift(
    world: World, store: Store, tmp_path: Path
) -> None:
    transport = _transport(world)
    async with _connector(world, transport) as conn:
        await pull(store, conn)
        local = _local_entries(world, store)
        store.upsert_local(SLUG, local, actor="paper journal", reason="outage")

        found = reconcile(store, SLUG, PLATFORM, capabilities=conn.capabilities)
        assert found.enqueued == len(local) == 6
        items = store.outbox(SLUG, PLATFORM)
        assert {i.channel for i in items} == {"worklist"}

        pushed = await push(store, conn)
        assert pushed.awaiting_entry == 6 and pushed.sent == 0
        assert Counter(i.status for i in store.outbox(SLUG, PLATFORM)) == {"awaiting_entry": 6}

        lists = build_worklists(store, SLUG, PLATFORM)
        assert len(lists) == 2  # two teachers
        assert sum(w.entry_count for w in lists) == 6
        assert all(w.unresolved == 0 for w in lists)
        _check_files(lists, tmp_path)

        # the "teacher" enters both lists; one mark is mistyped
        mistyped: list[str] = []
        async with httpx.AsyncClient(transport=transport, base_url="http://op.test") as http:
            for n, wl in enumerate(lists):
                payload = json.loads(json.dumps(to_json(wl)))  # as a file round trip would
                resp = await http.post(APPLY_PATH, json={"worklist": payload, "mistype": 1 - n})
                assert resp.status_code == 200, resp.text
                body = resp.json()
                assert body["skipped"] == []
                assert body["applied"] == wl.entry_count
                mistyped += body["mistyped"]
        assert len(mistyped) == 1
        typo_id = mistyped[0]

        await pull(store, conn)
        after = reconcile(store, SLUG, PLATFORM, capabilities=conn.capabilities)

    assert after.verified_entries == 5
    old = [i for i in store.outbox(SLUG, PLATFORM) if i.status != "pending"]
    assert Counter(i.status for i in old) == {"verified": 5, "awaiting_entry": 1}
    assert next(i for i in old if i.status == "awaiting_entry").record_id == typo_id
    assert all(i.attempts == 0 for i in store.outbox(SLUG, PLATFORM))  # nothing went to an API

    open_findings = store.findings(SLUG, PLATFORM, status="open")
    assert [(f.entity, f.record_id, f.kind) for f in open_findings] == [
        ("mark", typo_id, "mismatch")
    ]
    (diff,) = open_findings[0].fields
    assert diff.field == "value" and diff.local != diff.remote

    # the correction is queued anew and is the only entry of the next worklist
    (again,) = build_worklists(store, SLUG, PLATFORM)
    (block,) = again.blocks
    (entry,) = block.entries
    assert entry.record_id == typo_id
    assert entry.value == diff.local and entry.current == diff.remote
    assert len(entry.keys) == 2  # the old hand-entry item and the correction


def _check_files(lists: list[Any], tmp_path: Path) -> None:
    for n, wl in enumerate(lists):
        xlsx = write_xlsx(wl, tmp_path / f"wl{n}.xlsx")
        pdf = write_pdf(wl, tmp_path / f"wl{n}.pdf")
        json_path = tmp_path / f"wl{n}.json"
        json_path.write_text(json.dumps(to_json(wl), ensure_ascii=False), encoding="utf-8")
        assert from_json(json.loads(json_path.read_text(encoding="utf-8"))) == wl

        ws = load_workbook(xlsx).active
        assert ws is not None
        cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
        assert f"Учитель: {wl.teacher}" in cells
        for block in wl.blocks:
            assert block.heading in cells
            for e in block.entries:
                if e.student:
                    assert e.student in cells
        if shutil.which("pdftotext"):
            text = subprocess.run(
                ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
            ).stdout
            assert "Лист внесения записей" in text
            assert wl.teacher in " ".join(text.split())
