"""The package channel on a real pull: a NetSchool sandbox school pulled over HTTP into SQLite,
then packaged — as a migration of the whole journal, and as the outbox's changes."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from connectors.netschool import NetSchoolConnector
from connectors.netschool.emulator import create_app
from connectors.sandbox.world import World, WorldSize
from core.codes import MarkValue, split_mark_text
from core.connector import Change, Credentials, PushChannel, SchoolTarget
from core.errors import ConfigError
from core.model import Attendance, FinalMark, Lesson, Mark, Period, Person, Record
from core.package import (
    EXTENSIONS,
    HEADERS,
    MANIFEST_FILES,
    build_package,
    issue_package,
    package_bytes,
    write_package,
)
from core.store import Store
from core.sync import pull
from core.sync._reconcile import change_key
from tests.support.cli import run_cli

SLUG = "school-1"
PLATFORM = "netschool"
SIZE = WorldSize(grades=(6, 9), letters=1, students_per_class=8, weeks=1)
NOW = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)


def connector(world: World) -> NetSchoolConnector:
    admin = world.accounts(school=SLUG, role="admin")[0]
    target = SchoolTarget(
        school=SLUG,
        platform=PLATFORM,
        base_url="http://netschool.test",
        credentials=Credentials(login=admin.login, password=admin.password),
        platform_school=world.school(SLUG).short_name,
    )
    return NetSchoolConnector(
        target, transport=httpx.ASGITransport(app=create_app(world)), today=world.today
    )


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(23, SIZE)


@pytest.fixture
def store(tmp_path: Path, world: World) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'journal.db'}")
    yield s
    s.close()


async def pulled(store: Store, world: World) -> Store:
    async with connector(world) as conn:
        await pull(store, conn)
    return store


def read_zip(
    data: bytes,
) -> tuple[dict[str, list[dict[str, str]]], dict[str, list[str]], zipfile.ZipFile]:
    zf = zipfile.ZipFile(io.BytesIO(data))
    tables: dict[str, list[dict[str, str]]] = {}
    headers: dict[str, list[str]] = {}
    for name in zf.namelist():
        if name.endswith(".csv"):
            text = zf.read(name).decode("utf-8")
            assert not text.startswith("\ufeff")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            headers[name] = rows[0]
            tables[name] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    return tables, headers, zf


def decode(row: dict[str, str]) -> MarkValue:
    """A result row back to the canonical mark value."""
    if row["score"]:
        assert row["textScore"] == ""
        return MarkValue(row["score"])
    (value,) = split_mark_text(row["textScore"])
    return value


def cells(ws: object) -> dict[tuple[str, str], str]:
    """(student name, column title) → cell text of a journal sheet."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]  # type: ignore[attr-defined]
    head = next(i for i, r in enumerate(rows) if r[:2] == ["№", "Ученик"])
    titles = rows[head]
    out = {}
    for r in rows[head + 1 :]:
        if isinstance(r[0], int):
            for t, v in zip(titles[2:], r[2:], strict=True):
                if v:
                    out[(str(r[1]), str(t))] = str(v)
    return out


async def test_a_migration_package_carries_the_whole_journal(
    store: Store, world: World, tmp_path: Path
) -> None:
    await pulled(store, world)
    remote = list(store.remote_records(SLUG, PLATFORM))
    store.upsert_local(SLUG, remote, actor="migration", reason="from netschool")
    pkg = build_package(store, SLUG, PLATFORM, scope="journal", now=NOW)
    assert pkg.unresolved == 0
    path = write_package(pkg, tmp_path)
    assert path.name == f"{SLUG}-{PLATFORM}-2026-10-05.zip"
    tables, headers, zf = read_zip(path.read_bytes())

    # exact 1.2 headers, a full bulk manifest
    for name, head in headers.items():
        if name != "manifest.csv":
            assert tuple(head) == HEADERS[name] + EXTENSIONS.get(name, ()), name
    manifest = dict((r["propertyName"], r["value"]) for r in tables["manifest.csv"])
    assert manifest["manifest.version"] == "1.0" and manifest["oneroster.version"] == "1.2"
    assert [k for k in manifest if k.startswith("file.")] == [f"file.{f}" for f in MANIFEST_FILES]
    for f in MANIFEST_FILES:
        assert manifest[f"file.{f}"] == ("bulk" if f"{f}.csv" in tables else "absent")
    assert manifest["file.demographics"] == "absent"
    assert all(r["status"] == "" for t in tables.values() for r in t if "status" in r)

    # referential integrity
    users = {r["sourcedId"]: r for r in tables["users.csv"]}
    classes = {r["sourcedId"] for r in tables["classes.csv"]}
    courses = {r["sourcedId"] for r in tables["courses.csv"]}
    sessions = {r["sourcedId"]: r for r in tables["academicSessions.csv"]}
    line_items = {r["sourcedId"]: r for r in tables["lineItems.csv"]}
    categories = {r["sourcedId"] for r in tables["categories.csv"]}
    assert {r["courseSourcedId"] for r in tables["classes.csv"]} <= courses
    assert {r["termSourcedIds"] for r in tables["classes.csv"]} <= set(sessions)
    assert {r["userSourcedId"] for r in tables["enrollments.csv"]} <= set(users)
    assert {r["classSourcedId"] for r in tables["enrollments.csv"]} <= classes
    assert {r["userSourcedId"] for r in tables["roles.csv"]} == set(users)
    assert {r["type"] for r in sessions.values()} >= {"schoolYear", "gradingPeriod"}
    for li in line_items.values():
        assert li["classSourcedId"] in classes and li["categorySourcedId"] in categories
        assert li["academicSessionSourcedId"] in sessions
        assert li["assignDate"] == li["dueDate"] != ""
    for r in tables["results.csv"]:
        assert r["lineItemSourcedId"] in line_items
        assert r["studentSourcedId"] in users
        assert r["classSourcedId"] == line_items[r["lineItemSourcedId"]]["classSourcedId"]

    # marks round-trip to the canonical values, under their stable canonical ids
    marks = {r.id: r for r in remote if isinstance(r, Mark | FinalMark)}
    results = {r["sourcedId"]: decode(r) for r in tables["results.csv"]}
    assert results == {rid: m.value for rid, m in marks.items()}
    lessons = {r.id: r for r in remote if isinstance(r, Lesson)}
    for r in tables["results.csv"]:
        mark = marks[r["sourcedId"]]
        if isinstance(mark, Mark):
            assert r["scoreDate"] == lessons[mark.lesson_id].date.isoformat()
            assert line_items[r["lineItemSourcedId"]]["categorySourcedId"] == mark.work_type

    # names only: no birth dates, no contacts
    persons = {r.id: r for r in remote if isinstance(r, Person)}
    for u in users.values():
        p = persons[u["sourcedId"]]
        assert (u["familyName"], u["givenName"], u["middleName"]) == (
            p.last_name, p.first_name, p.middle_name)  # fmt: skip
        assert u["email"] == u["phone"] == u["sms"] == u["password"] == ""
    born = {str(p.birth_date) for p in persons.values() if p.birth_date}
    for name in zf.namelist():
        if name.endswith(".csv"):
            text = zf.read(name).decode()
            assert not any(b in text for b in born)

    # the journal XLSX: a file per class, marks and attendance in the student × lesson grid
    journals = sorted(n for n in zf.namelist() if n.startswith("journal/"))
    assert journals == ["journal/6А.xlsx", "journal/9А.xlsx"]
    readme = zf.read("README.txt").decode("utf-8-sig")
    assert "OneRoster" in readme and "journal/6А.xlsx" in readme
    att = next(r for r in remote if isinstance(r, Attendance))
    _assert_shown(zf, remote, att)
    mark = next(r for r in remote if isinstance(r, Mark) and r.value is MarkValue.FIVE)
    _assert_shown(zf, remote, mark)


def _assert_shown(zf: zipfile.ZipFile, remote: list[Record], rec: Mark | Attendance) -> None:
    by_id = {r.id: r for r in remote}
    lesson = by_id[rec.lesson_id]
    assert isinstance(lesson, Lesson)
    group = by_id[lesson.group_id]
    cls = by_id[group.class_id]  # type: ignore[attr-defined]
    subject = by_id[group.subject_id]  # type: ignore[attr-defined]
    student = by_id[rec.student_id]
    assert isinstance(student, Person)
    wb = load_workbook(io.BytesIO(zf.read(f"journal/{cls.name}.xlsx")))  # type: ignore[attr-defined]
    assert "Темы уроков" in wb.sheetnames
    sheet = next(ws for ws in wb.worksheets if ws.title.startswith(subject.name[:20]))  # type: ignore[attr-defined]
    grid = cells(sheet)
    name = " ".join(p for p in (student.last_name, student.first_name, student.middle_name) if p)
    shown = [
        v
        for (who, col), v in grid.items()
        if who == name and col.startswith(f"{lesson.date:%d.%m}")
    ]
    want = (
        "5"
        if isinstance(rec, Mark)
        else {"absent": "Н", "excused": "У", "ill": "Б", "late": "ОП", "released": "ОСВ"}[
            rec.code.value
        ]
    )
    assert any(want in v.split() for v in shown), (shown, want)


async def test_same_input_same_bytes(store: Store, world: World, tmp_path: Path) -> None:
    await pulled(store, world)
    store.upsert_local(SLUG, store.remote_records(SLUG, PLATFORM), actor="t")
    one = package_bytes(build_package(store, SLUG, PLATFORM, scope="journal", now=NOW))
    two = package_bytes(build_package(store, SLUG, PLATFORM, scope="journal", now=NOW))
    assert one == two
    later = package_bytes(
        build_package(store, SLUG, PLATFORM, scope="journal", now=NOW.replace(hour=11))
    )
    assert later != one  # the package time is in the files (dateLastModified, XLSX, zip)


def _enqueue_package(store: Store, records: list[Record]) -> int:
    changes = [Change(key=change_key(r, "upsert", None), op="upsert", record=r) for r in records]
    return store.enqueue(SLUG, PLATFORM, changes, channel=PushChannel.PACKAGE.value)


async def test_an_outbox_package_is_a_delta_and_is_issued(
    store: Store, world: World, tmp_path: Path
) -> None:
    await pulled(store, world)
    remote = list(store.remote_records(SLUG, PLATFORM))
    mark = next(r for r in remote if isinstance(r, Mark) and r.value is not MarkValue.FIVE)
    fixed = Mark.model_validate({**mark.data(), "value": "5"})
    passed = Mark.model_validate({**mark.data(), "work_type": "credit", "value": "pass"})
    by_id = {r.id: r for r in remote}
    lesson = by_id[mark.lesson_id]
    assert isinstance(lesson, Lesson)
    group = by_id[lesson.group_id]
    period = next(r for r in remote if isinstance(r, Period) and r.start <= lesson.date <= r.end)
    final = FinalMark(school=SLUG, student_id=mark.student_id, subject_id=group.subject_id,  # type: ignore[attr-defined]
                      period_id=period.id, value=MarkValue.NOT_ATTESTED)  # fmt: skip
    store.enqueue(SLUG, PLATFORM, [Change(key="other", op="upsert", record=fixed)], channel="api")
    assert _enqueue_package(store, [fixed, passed, final]) == 3

    pkg = build_package(store, SLUG, PLATFORM, now=NOW)
    assert pkg.scope == "outbox" and len(pkg.items) == 3 and len(pkg.keys) == 3
    assert pkg.unresolved == 0
    tables, _, zf = read_zip(package_bytes(pkg))
    manifest = {r["propertyName"]: r["value"] for r in tables["manifest.csv"]}
    assert manifest["file.results"] == manifest["file.lineItems"] == "delta"
    assert manifest["file.demographics"] == "absent"
    assert {r["sourcedId"]: decode(r) for r in tables["results.csv"]} == {
        fixed.id: MarkValue.FIVE,
        passed.id: MarkValue.PASS,
        final.id: MarkValue.NOT_ATTESTED,
    }
    assert {r["textScore"] for r in tables["results.csv"]} == {"", "зачёт", "н/а"}
    assert {r["status"] for r in tables["results.csv"]} == {"active"}
    assert {r["dateLastModified"] for r in tables["results.csv"]} == {"2026-10-05T09:30:00.000Z"}
    items = {r["sourcedId"]: r for r in tables["lineItems.csv"]}
    final_row = next(r for r in tables["results.csv"] if r["sourcedId"] == final.id)
    final_item = items[final_row["lineItemSourcedId"]]
    assert (final_item["categorySourcedId"], final_item["academicSessionSourcedId"]) == (
        "final", period.id)  # fmt: skip
    assert final_item["classSourcedId"] == group.id == final_row["classSourcedId"]
    assert {r["sourcedId"] for r in tables["categories.csv"]} == {"answer", "credit", "final"}
    # the class journal shows the three entries in the student's row
    (journal,) = [n for n in zf.namelist() if n.startswith("journal/")]
    wb = load_workbook(io.BytesIO(zf.read(journal)))
    shown = sorted(v for ws in wb.worksheets[:-1] for v in cells(ws).values())
    assert shown == ["5 зачёт", "н/а"]
    # minimised: of the whole roster only the one student the changes are about
    students = {r["userSourcedId"] for r in tables["enrollments.csv"] if r["role"] == "student"}
    assert students == {mark.student_id}

    assert issue_package(store, SLUG, PLATFORM, pkg) == 3
    statuses = {(i.channel, i.status) for i in store.outbox(SLUG, PLATFORM)}
    assert statuses == {("api", "pending"), ("package", "awaiting_entry")}
    again = build_package(store, SLUG, PLATFORM, now=NOW)  # still open until verified
    assert package_bytes(again) == package_bytes(pkg)
    assert issue_package(store, SLUG, PLATFORM, again) == 0

    # a delete is a tobedeleted result, and «удалить …» in the journal
    gone = next(r for r in remote if isinstance(r, Mark) and r.lesson_id != mark.lesson_id)
    store.enqueue(SLUG, PLATFORM, [Change(key="del", op="delete", record=gone)], channel="package")
    tables, _, _ = read_zip(package_bytes(build_package(store, SLUG, PLATFORM, now=NOW)))
    status = {r["sourcedId"]: r["status"] for r in tables["results.csv"]}
    assert status[gone.id] == "tobedeleted" and status[fixed.id] == "active"

    with pytest.raises(ConfigError):
        build_package(store, SLUG, PLATFORM, scope="everything")  # type: ignore[arg-type]


async def test_cli_writes_the_dated_zip_and_issues_it(
    store: Store, world: World, tmp_path: Path
) -> None:
    await pulled(store, world)
    mark = next(r for r in store.remote_records(SLUG, PLATFORM, "mark"))
    assert isinstance(mark, Mark)
    _enqueue_package(store, [Mark.model_validate({**mark.data(), "comment": "пересдача"})])
    db = f"sqlite:///{tmp_path / 'journal.db'}"
    out = tmp_path / "out"
    proc = run_cli(
        "package", "--school", SLUG, "--platform", PLATFORM, "--db", db, "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    (written,) = out.iterdir()
    assert written.name.startswith(f"{SLUG}-{PLATFORM}-") and written.suffix == ".zip"
    assert proc.stdout.strip() == str(written)
    assert Counter(i.status for i in store.outbox(SLUG, PLATFORM)) == {"awaiting_entry": 1}
    proc = run_cli(
        "package", "--school", SLUG, "--platform", PLATFORM, "--db", db, "--out", str(out),
        "--scope", "nonsense",
    )  # fmt: skip
    assert proc.returncode == 2
