"""Offline journals: ``journalsync template`` writes the temporary journal of regulation 002 §13.1
from the snapshot, ``journalsync import`` reads it back through the importer, ``status`` shows
the §13.2 deadline until the platform holds the entries — and the outage day end to end: the
emulator off, the template filled for one class and two days, imported, the emulator back, the
scheduled push carries it over, drift empty."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from connectors.sandbox import World, WorldSize
from connectors.sandbox.journal import empty_journal
from connectors.sandbox.server import serve_in_thread
from core.codes import AttendanceCode, MarkValue
from core.connector import Page
from core.importer import import_file
from core.importer._carry import carry_over, working_days_after
from core.importer._template import GRID_SHEET, TOPICS_SHEET, template_bytes, template_input
from core.model import Attendance, ClassUnit, Enrollment, Homework, Lesson, Mark, Person, Record
from core.store import Store
from core.sync import reconcile
from journalsync.config import parse_config
from scheduler import Runner
from scheduler.sandbox import sandbox_municipality
from tests.support import REPO_ROOT
from tests.support.cli import run_cli

PLATFORM = "netschool"
ROOT = REPO_ROOT
SIZE = WorldSize(grades=(5, 9), letters=1, students_per_class=8, weeks=1)


def _pythonpath() -> str:
    """This worktree first, then whatever the caller had on the path."""
    return os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


def _snapshot(tmp_path: Path) -> tuple[Store, str, list[Record]]:
    world = empty_journal(World.generate(11, SIZE))
    school = next(iter(world.schools))
    records = world.canonical(school, PLATFORM)
    store = Store.open(f"sqlite:///{tmp_path / 'j.db'}")
    store.commit_page(school, PLATFORM, Page("roster", "all", records, {}))
    return store, school, records


def _days(records: list[Record]) -> list[date]:
    return sorted({r.date for r in records if isinstance(r, Lesson)})


def _fill(path: Path, cells: dict[tuple[str, str], object]) -> None:
    wb = load_workbook(path)
    for (sheet, ref), value in cells.items():
        wb[sheet][ref] = value
    wb.save(path)


def test_the_template_holds_the_class_list_the_lessons_and_the_lists(tmp_path: Path) -> None:
    store, school, records = _snapshot(tmp_path)
    d1, d2 = _days(records)[:2]
    out = tmp_path / "out" / "5А.xlsx"
    run = _cli("template", "--school", school, "--class", "5а", "--from", d1.isoformat(), "--to",
               d2.isoformat(), "--out", str(out), "--platform", PLATFORM, "--db",
               f"sqlite:///{tmp_path / 'j.db'}")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, "owner-only: pupils' names"
    t = template_input(store, school, PLATFORM, "5А", d1, d2)
    assert f"8 pupils, 2 days, {len(t.slots)} lessons" in run.stdout

    wb = load_workbook(out)
    assert wb.sheetnames == [GRID_SHEET, TOPICS_SHEET, "Списки"]
    assert wb["Списки"].sheet_state == "hidden"
    ws = wb[GRID_SHEET]
    assert ws.protection.sheet and wb[TOPICS_SHEET].protection.sheet
    labels = {ws.cell(r, 1).value: r for r in range(1, 13)}
    head, pupils_at = labels["Дата"], labels["№"] + 1
    five = next(c for c in records if isinstance(c, ClassUnit) and c.name == "5А")
    enrolled = {
        e.student_id for e in records if isinstance(e, Enrollment) and e.class_id == five.id
    }
    names = sorted(
        f"{p.last_name} {p.first_name} {p.middle_name}".strip()
        for p in records
        if isinstance(p, Person) and p.id in enrolled
    )
    assert [ws.cell(pupils_at + i, 2).value for i in range(8)] == names
    lessons = sorted(
        (
            le
            for le in records
            if isinstance(le, Lesson) and le.id in {s.lesson.id for s in t.slots}
        ),
        key=lambda le: (le.date, le.number),
    )
    assert len(lessons) == len(t.slots) >= 8
    shown = [(ws.cell(head, 3 + 2 * k).value, ws.cell(head + 1, 3 + 2 * k).value)
             for k in range(len(t.slots))]  # fmt: skip
    assert shown == [(f"{le.date:%d.%m.%Y}", le.number) for le in lessons]
    # the cells to fill are open, the header is not
    assert ws.cell(pupils_at, 3).protection.locked is False
    assert ws.cell(head, 3).protection.locked is True
    assert ws.cell(pupils_at, 2).protection.locked is True
    # drop-down lists: attendance codes, marks (a warning only) and work types
    rules = {str(dv.formula1): dv for dv in ws.data_validations.dataValidation}
    assert len(rules) == 3
    assert all(dv.type == "list" for dv in rules.values())
    assert sorted(dv.errorStyle or "stop" for dv in rules.values()) == ["stop", "stop", "warning"]
    lists = wb["Списки"]
    assert [lists.cell(i, 1).value for i in range(1, 6)] == ["Н", "У", "Б", "ОП", "ОСВ"]
    assert "Контрольная работа" in [lists.cell(i, 3).value for i in range(1, 25)]
    # a document for the school: no ids, no file names
    with zipfile.ZipFile(out) as zf:
        xml = b"".join(zf.read(n) for n in zf.namelist()).decode("utf-8", "replace")
    ids = {r.id for r in records}
    assert not any(i in xml for i in ids)
    assert school not in xml and "5А.xlsx" not in xml
    store.close()


def test_a_filled_template_is_imported_through_the_importer_rules(tmp_path: Path) -> None:
    store, school, records = _snapshot(tmp_path)
    d1, d2 = _days(records)[:2]
    t = template_input(store, school, PLATFORM, "5А", d1, d2)
    path = tmp_path / "t.xlsx"
    path.write_bytes(template_bytes(t))
    sub = next(k for k, s in enumerate(t.slots) if s.members)
    outsider = next(n for n, (pid, _) in enumerate(t.pupils) if pid not in t.slots[sub].members)
    col = lambda k, off=0: chr(ord("C") + 2 * k + off)  # noqa: E731
    _fill(path, {
        (GRID_SHEET, "C10"): "Контрольная работа",
        (GRID_SHEET, "C12"): 5,           # pupil 1, lesson 1: a 5 for the test
        (GRID_SHEET, "C13"): "4/5",       # pupil 2: two marks
        (GRID_SHEET, "D14"): "Б",         # pupil 3: ill
        (GRID_SHEET, f"{col(sub)}{12 + outsider}"): 3,  # not in that subgroup
        (GRID_SHEET, "E15"): "отлично",   # not a mark
        (TOPICS_SHEET, "E2"): "Дроби",
        (TOPICS_SHEET, "F2"): "№ 1–5",
    })  # fmt: skip
    result = import_file(store, school, PLATFORM, path, actor="test")
    first = t.slots[0].lesson
    pupils = [pid for pid, _ in t.pupils]
    local = list(store.local_records(school))
    marks = sorted(
        (m.student_id, m.ordinal, m.value, m.work_type, m.weight)
        for m in local
        if isinstance(m, Mark)
    )
    assert marks == sorted([
        (pupils[0], 1, MarkValue.FIVE, "test", 2.0),
        (pupils[1], 1, MarkValue.FOUR, "test", 2.0),
        (pupils[1], 2, MarkValue.FIVE, "test", 2.0),
    ])  # fmt: skip
    assert all(m.lesson_id == first.id for m in local if isinstance(m, Mark))
    assert [(a.student_id, a.code) for a in local if isinstance(a, Attendance)] == [
        (pupils[2], AttendanceCode.ILL)
    ]
    assert [le.topic for le in local if isinstance(le, Lesson)] == ["Дроби"]
    assert [h.text for h in local if isinstance(h, Homework)] == ["№ 1–5"]
    reasons = sorted(q.reason for q in result.quarantine)
    assert reasons == sorted([
        f"cell «{GRID_SHEET}»!{col(sub)}{12 + outsider}, field student: the pupil is not in "
        "that subgroup",
        f"cell «{GRID_SHEET}»!E15, field value: unknown mark value 'отлично'",
    ])  # fmt: skip
    assert all(t.pupils[outsider][1] not in q.reason for q in result.quarantine)
    log = store.change_log(school, reason_prefix="offline journal")
    assert len(log) == result.records == 6
    again = import_file(store, school, PLATFORM, path, actor="test")
    assert (again.inserted, again.updated, again.quarantine_added) == (0, 0, 0)
    store.close()


def test_a_template_for_a_class_or_days_not_in_the_snapshot_is_refused(tmp_path: Path) -> None:
    store, school, records = _snapshot(tmp_path)
    store.close()
    db = f"sqlite:///{tmp_path / 'j.db'}"
    d1 = _days(records)[0]
    base = ["template", "--school", school, "--platform", PLATFORM, "--db", db,
            "--out", str(tmp_path / "x.xlsx")]  # fmt: skip
    for extra, message in (
        (["--class", "7В", "--from", str(d1), "--to", str(d1)], "no class 7В in the snapshot"),
        (["--class", "5А", "--from", "2026-07-01", "--to", "2026-07-02"], "no lessons of 5А"),
        (["--class", "5А", "--from", str(d1), "--to", "2026-06-01"], "is before --from"),
    ):
        run = _cli(*base, *extra)
        assert run.returncode == 2 and message in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_two_working_days_skip_the_weekend() -> None:
    assert working_days_after(date(2026, 9, 9), 2) == date(2026, 9, 11)  # Wed → Fri
    assert working_days_after(date(2026, 9, 10), 2) == date(2026, 9, 14)  # Thu → Mon
    assert working_days_after(date(2026, 9, 12), 2) == date(2026, 9, 15)  # Sat → Tue


# -- the outage day, end to end ----------------------------------------------------------------

SLOT = datetime(2026, 9, 14, 12, 30, tzinfo=UTC)  # after school in Barnaul


def _cycle(plan: object, store: Store, op: str, slot: datetime) -> list[object]:
    return asyncio.run(Runner(plan, store).run_cycle(op, slot))  # type: ignore[arg-type]


@pytest.mark.slow
def test_outage_day_template_import_and_the_scheduled_push_carries_it_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "m.db"
    with sandbox_municipality(1, store_url=f"sqlite:///{db}", platforms=[PLATFORM],
                              schools_per_host=1) as m:  # fmt: skip
        for k, v in m.env.items():
            monkeypatch.setenv(k, v)
        config = m.write(tmp_path / "m.toml")
        plan = parse_config(m.config_text, "m.toml", platforms=[PLATFORM])
        slug = plan.schools[0].slug
        world, _ = m.world_of(slug)
        # The outage days: the last two school days, on which nothing reached the platform.
        days = sorted({le.day for le in world.lessons.values()})[-2:]
        for le in world.lessons.values():
            if le.day in days:
                le.topic, le.attendance = "", {}
                for aid in le.assignment_ids:
                    world.assignments.pop(aid, None)
                le.assignment_ids.clear()
        store = Store.open(plan.store_url)
        (before,) = _cycle(plan, store, "push", SLOT)
        assert before.state == "done", before.reason  # type: ignore[attr-defined]

        server = m.servers[0]
        host, port = server.host, server.port
        server.stop()  # the platform is down
        (down,) = _cycle(plan, store, "push", SLOT + timedelta(hours=1))
        assert down.state == "failed"  # type: ignore[attr-defined]

        xlsx = tmp_path / "5А.xlsx"
        d0, d1 = (d.isoformat() for d in days)
        run = _cli("template", "-c", str(config), "--school", slug, "--class", "5А",
                   "--from", d0, "--to", d1, "--out", str(xlsx))  # fmt: skip
        assert run.returncode == 0, run.stderr
        wb = load_workbook(xlsx)
        ws = wb[GRID_SHEET]
        lessons = sum(1 for c in range(3, ws.max_column + 1, 2) if ws.cell(7, c).value)
        pupils = [r for r in range(12, ws.max_row + 1) if ws.cell(r, 2).value]
        five_a = next(c for c in world.classes.values() if c.name == "5А")
        # NetSchool's snapshot has no enrollments: the class list comes from what it shows
        assert len(pupils) == len(five_a.student_ids)
        filled = 0
        for k in range(lessons):
            c = 3 + 2 * k
            free = [r for r in pupils if ws.cell(r, c).fill.fgColor.rgb != "00D9D9D9"]
            ws.cell(free[0], c).value = 5
            ws.cell(free[1], c).value = 4
            ws.cell(free[-1], c + 1).value = "Н"
            filled += 3
        # NetSchool sets a topic only to one of the group's КТП (netschool.md): the teacher
        # writes the КТП's topic; homework has no API channel there (it would await hand
        # entry), so this day's sheet carries none.
        five = next(c.ext_id for c in world.classes.values() if c.name == "5А")
        first = min(
            (le for le in world.lessons.values()
             if le.day == days[0] and world.groups[le.group_id].class_id == five),
            key=lambda le: (le.number, world.groups[le.group_id].subgroup),
        )  # fmt: skip
        ktp = world.groups[first.group_id].ktp[-1].name
        wb[TOPICS_SHEET]["E2"] = ktp
        wb.save(xlsx)

        run = _cli("import", str(xlsx), "-c", str(config), "--school", slug)
        assert run.returncode == 0, run.stderr
        assert f"imported {filled + 1} records" in run.stdout and "0 rows quarantined" in run.stdout
        run = _cli("status", "-c", str(config))
        assert f"{filled + 1} offline-journal entries waiting for the platform" in run.stdout

        m.servers.append(serve_in_thread(m.apps[server.base_url], host, port))  # back again
        (pulled,) = _cycle(plan, store, "pull", SLOT + timedelta(hours=15))  # 10:30 in Barnaul
        assert pulled.state == "done", pulled.reason  # type: ignore[attr-defined]
        found = carry_over(store, slug, PLATFORM, plan.schools[0].timezone)
        assert found is not None and found.pending == filled + 1
        assert found.deadline == working_days_after(
            found.resumed_at.date(),
            2,  # type: ignore[union-attr]
        )
        run = _cli("status", "-c", str(config))
        assert f"deadline {found.deadline:%Y-%m-%d} (regulation 002 §13.2" in run.stdout
        run = _cli("status", "-c", str(config), "--json")
        (row,) = json.loads(run.stdout)
        assert row["offline_journal"]["pending"] == filled + 1
        assert row["offline_journal"]["deadline"] == found.deadline.isoformat()

        (pushed,) = _cycle(plan, store, "push", SLOT + timedelta(days=1))
        assert pushed.state == "done", pushed.reason  # type: ignore[attr-defined]
        assert pushed.counts.get("verified", 0) >= filled + 1, pushed.counts  # type: ignore[attr-defined]
        reconcile(store, slug, PLATFORM)
        assert store.findings(slug, PLATFORM, "open") == [], "drift empty"
        assert carry_over(store, slug, PLATFORM) is None
        run = _cli("status", "-c", str(config))
        assert "offline-journal" not in run.stdout
        marks = [
            v for a in world.assignments.values() for v in a.marks.values()
            if world.lessons[a.lesson_id].day in days
        ]  # fmt: skip
        assert sorted(marks).count(MarkValue.FIVE) >= lessons
        store.close()
