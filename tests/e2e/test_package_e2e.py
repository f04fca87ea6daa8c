"""The package loop end to end, over real HTTP against the NetSchool emulator.

The connector is a test double of *capabilities only*: NetSchool with the ``package`` channel
instead of its API, standing in for the platforms whose operator loads files. The pull is the
real NetSchool pull.

pull → local paper-journal entries → reconcile (queued on ``package``) → package zip, issued
(awaiting entry) → an "operator" reads the zip — marks from results.csv/lineItems.csv, attendance
from the class journal XLSX, topics and homework from its topics sheet — and enters them into the
sandbox World with one mark mistyped → pull → reconcile: all verified but the typo.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.sandbox.world import LessonInfo, World, WorldSize
from core.codes import AttendanceCode, MarkValue, split_mark_text
from core.connector import ChannelCapability, Credentials, PushChannel, SchoolTarget
from core.model import Attendance, Homework, Lesson, Mark, Record
from core.package import build_package, issue_package, write_package
from core.store import Store
from core.sync import pull, reconcile

SLUG = "school-1"
PLATFORM = "netschool"
SIZE = WorldSize(grades=(6, 9), letters=1, students_per_class=10, weeks=1)
ATTENDANCE = {"Н": AttendanceCode.ABSENT, "У": AttendanceCode.EXCUSED, "Б": AttendanceCode.ILL,
              "ОП": AttendanceCode.LATE, "ОСВ": AttendanceCode.RELEASED}  # fmt: skip


class PackageOnlyNetSchool(NetSchoolConnector):
    """NetSchool as if its operator loaded packages (capabilities differ; the pull is real)."""

    capabilities = replace(
        NetSchoolConnector.capabilities,
        push=(
            ChannelCapability(
                channel=PushChannel.PACKAGE,
                entities=frozenset({"mark", "attendance", "lesson", "homework"}),
                evidence="test double: the operator loads the package",
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


def _connector(world: World) -> PackageOnlyNetSchool:
    admin = world.accounts(school=SLUG, role="admin")[0]
    target = SchoolTarget(
        school=SLUG,
        platform=PLATFORM,
        base_url="http://netschool.test",
        credentials=Credentials(login=admin.login, password=admin.password),
        platform_school=world.school(SLUG).short_name,
    )
    return PackageOnlyNetSchool(
        target, transport=httpx.ASGITransport(app=create_app(world)), today=world.today
    )


def _free(world: World, le: LessonInfo) -> list[int]:
    marked = {st for a in world.lesson_assignments(le) for st in a.marks}
    return [st for st in world.groups[le.group_id].member_ids
            if st not in marked and st not in le.attendance]  # fmt: skip


def _past_lessons(world: World) -> tuple[LessonInfo, LessonInfo]:
    lessons = [
        le
        for le in sorted(world.lessons.values(), key=lambda le: (le.day, le.number, le.ext_id))
        if le.day <= world.today
        and world.groups[le.group_id].subgroup == 0
        and len(_free(world, le)) >= 3
        and not any(a.work_type == "homework" for a in world.lesson_assignments(le))
    ]
    first = lessons[0]
    return first, next(le for le in lessons if le.group_id != first.group_id)


def _answer_weight(world: World, le: LessonInfo) -> float:
    answers = sorted((a for a in world.lesson_assignments(le) if a.work_type == "answer"),
                     key=lambda a: a.ext_id)  # fmt: skip
    return answers[0].weight if answers else 1.0


def _ext_ids(world: World) -> dict[str, int]:
    """Canonical id → the World's ext id (the ids a pull yields are the world's canonical ids)."""
    return {
        r.id: int(r.provenance.external_ids["id"])
        for r in world.canonical(SLUG, PLATFORM)
        if r.provenance is not None and "id" in r.provenance.external_ids
    }


def _local_entries(world: World, store: Store) -> list[Record]:
    """A paper journal kept during an outage: marks, attendance, a topic, a homework."""
    remote = {r.id: r for r in store.remote_records(SLUG, PLATFORM, "lesson")}
    lesson_ids = {
        int(r.provenance.external_ids["id"]): r.id
        for r in world.canonical(SLUG, PLATFORM)
        if isinstance(r, Lesson) and r.provenance is not None
    }
    persons = {
        int(r.provenance.external_ids["id"]): r.id
        for r in world.canonical(SLUG, PLATFORM)
        if r.ENTITY == "person" and r.provenance is not None
    }
    le1, le2 = _past_lessons(world)
    l1, l2 = remote[lesson_ids[le1.ext_id]], remote[lesson_ids[le2.ext_id]]
    assert isinstance(l1, Lesson) and isinstance(l2, Lesson)
    s1, s2, s3 = (persons[st] for st in _free(world, le1)[:3])
    t1 = persons[_free(world, le2)[0]]
    w1, w2 = _answer_weight(world, le1), _answer_weight(world, le2)
    return [
        Mark(school=SLUG, student_id=s1, lesson_id=l1.id, work_type="answer", value=MarkValue.FIVE,
             weight=w1),
        Mark(school=SLUG, student_id=s2, lesson_id=l1.id, work_type="answer", value=MarkValue.THREE,
             weight=w1),
        Attendance(school=SLUG, student_id=s3, lesson_id=l1.id, code=AttendanceCode.ILL),
        Mark(school=SLUG, student_id=t1, lesson_id=l2.id, work_type="answer", value=MarkValue.FOUR,
             weight=w2),
        Lesson.model_validate({**l2.data(), "topic": "Повторение: дроби и проценты"}),
        Homework(school=SLUG, lesson_id=l2.id, ordinal=1, text="§ 12, упражнения 3–5",
                 due_date=l2.date + timedelta(days=7)),
    ]  # fmt: skip


class Operator:
    """Enters a package into the World the way an operator reads it: ids from the CSV set,
    names and dates from the journal XLSX — never from the store."""

    def __init__(self, world: World, zf: zipfile.ZipFile) -> None:
        self.world = world
        self.zf = zf
        self.ext = _ext_ids(world)
        self.tables = {
            n: list(csv.DictReader(io.StringIO(zf.read(n).decode("utf-8"), newline="")))
            for n in zf.namelist()
            if n.endswith(".csv")
        }
        self.users = {r["sourcedId"]: r for r in self.tables["users.csv"]}
        self.classes = {r["sourcedId"]: r for r in self.tables["classes.csv"]}
        self.lessons = {(le.group_id, le.day, le.number): le for le in world.lessons.values()}

    def lesson(self, group_sourced_id: str, day: date, number: int) -> LessonInfo:
        return self.lessons[(self.ext[group_sourced_id], day, number)]

    def marks(self, mistype: int) -> list[str]:
        items = {r["sourcedId"]: r for r in self.tables["lineItems.csv"]}
        typos: list[str] = []
        for r in sorted(self.tables["results.csv"], key=lambda r: r["sourcedId"]):
            li = items[r["lineItemSourcedId"]]
            number = int(re.search(r"урок (\d+)", li["description"]).group(1))  # type: ignore[union-attr]
            le = self.lesson(li["classSourcedId"], date.fromisoformat(li["assignDate"]), number)
            value = MarkValue(r["score"]) if r["score"] else split_mark_text(r["textScore"])[0]
            if len(typos) < mistype:
                value = MarkValue.TWO if value is not MarkValue.TWO else MarkValue.THREE
                typos.append(r["sourcedId"])
            self.world.set_mark(le.ext_id, self.ext[r["studentSourcedId"]],
                                li["categorySourcedId"], value)  # fmt: skip
        return typos

    def journal(self) -> int:
        """Attendance from the group sheets, topics and homework from «Темы уроков»."""
        entered = 0
        for name in (n for n in self.zf.namelist() if n.startswith("journal/")):
            code = name.removeprefix("journal/").removesuffix(".xlsx")
            groups = {
                c["subjects"] + (" (1 гр.)" if "подгруппа 1" in c["title"] else ""): sid
                for sid, c in self.classes.items()
                if c["classCode"] == code and "подгруппа 2" not in c["title"]
            }
            for ws in load_workbook(io.BytesIO(self.zf.read(name))).worksheets:
                rows = [[c.value for c in row] for row in ws.iter_rows()]
                if ws.title == "Темы уроков":
                    entered += self._topics(rows, groups)
                else:
                    group = next(g for s, g in groups.items() if ws.title.startswith(s[:28]))
                    entered += self._attendance(rows, group)
        return entered

    def _topics(self, rows: list[list[Any]], groups: dict[str, str]) -> int:
        entered = 0
        head = rows.index(["Дата", "Урок", "Предмет", "Тема урока", "Домашнее задание"])
        for day, number, subject, topic, homework in rows[head + 1 :]:
            if not isinstance(number, int):
                continue
            le = self.lesson(groups[subject], day.date(), number)
            if topic:
                self.world.set_topic(le.ext_id, topic)
                entered += 1
            if homework:
                m = re.fullmatch(r"(.*) \(срок (.*)\)", homework)
                assert m is not None
                due = datetime.strptime(m.group(2), "%d.%m.%Y").date()
                self.world.set_homework(le.ext_id, m.group(1), due)
                entered += 1
        return entered

    def _attendance(self, rows: list[list[Any]], group: str) -> int:
        entered = 0
        by_name = {
            " ".join(p for p in (u["familyName"], u["givenName"], u["middleName"]) if p): sid
            for sid, u in self.users.items()
        }
        head = next(i for i, r in enumerate(rows) if r[:2] == ["№", "Ученик"])
        for r in rows[head + 1 :]:
            if not isinstance(r[0], int):
                continue
            for title, cell in zip(rows[head][2:], r[2:], strict=True):
                codes = [ATTENDANCE[w] for w in str(cell or "").split() if w in ATTENDANCE]
                m = re.match(r"(\d\d)\.(\d\d)(?: \((\d+) ур\.\))?", str(title))
                if not codes or m is None:
                    continue
                (le,) = [
                    le
                    for (g, d, n), le in self.lessons.items()
                    if g == self.ext[group]
                    and (d.day, d.month) == (int(m.group(1)), int(m.group(2)))
                    and (not m.group(3) or n == int(m.group(3)))
                ]
                self.world.set_attendance(le.ext_id, self.ext[by_name[str(r[1])]], codes[0])
                entered += 1
        return entered


async def test_package_round_trip_shows_a_typo_as_drift(
    world: World, store: Store, tmp_path: Path
) -> None:
    async with _connector(world) as conn:
        await pull(store, conn)
        local = _local_entries(world, store)
        store.upsert_local(SLUG, local, actor="paper journal", reason="outage")
        found = reconcile(store, SLUG, PLATFORM, capabilities=conn.capabilities)
        assert found.enqueued == len(local) == 6
        assert {i.channel for i in store.outbox(SLUG, PLATFORM)} == {"package"}

        pkg = build_package(store, SLUG, PLATFORM, now=datetime(2026, 10, 5, 9, 0, tzinfo=UTC))
        assert len(pkg.items) == 6 and pkg.unresolved == 0
        path = write_package(pkg, tmp_path)
        assert issue_package(store, SLUG, PLATFORM, pkg) == 6
        assert Counter(i.status for i in store.outbox(SLUG, PLATFORM)) == {"awaiting_entry": 6}

        with zipfile.ZipFile(path) as zf:
            operator = Operator(world, zf)
            typos = operator.marks(mistype=1)
            assert operator.journal() == 3  # attendance, topic, homework
        assert len(typos) == 1

        await pull(store, conn)
        after = reconcile(store, SLUG, PLATFORM, capabilities=conn.capabilities)

    assert after.verified_entries == 5
    old = [i for i in store.outbox(SLUG, PLATFORM) if i.status != "pending"]
    assert Counter(i.status for i in old) == {"verified": 5, "awaiting_entry": 1}
    assert next(i for i in old if i.status == "awaiting_entry").record_id == typos[0]
    assert all(i.attempts == 0 for i in store.outbox(SLUG, PLATFORM))  # nothing went to an API
    open_findings = store.findings(SLUG, PLATFORM, status="open")
    assert [(f.entity, f.record_id, f.kind) for f in open_findings] == [
        ("mark", typos[0], "mismatch")
    ]

    # the correction is queued anew and is the only result of the next package
    again = build_package(store, SLUG, PLATFORM)
    assert [i.record.id for i in again.items] == typos
    assert len(again.keys) == 2  # the issued item and the correction
