"""Independent NetSchool clients from PyPI, unchanged, against the emulator over a real socket.

Each lives in its own venv built by ``make test`` (``.venv-compat``: ``netschoolapi`` 11.0.5, which
pins httpx 0.23; ``.venv-compat-netschoolpy``: ``netschoolpy`` 9.6.3); a probe runs there as a
subprocess and prints counts and flags, never names."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest

from connectors.netschool.emulator import create_app
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.world import AssignmentInfo
from core.codes import MarkValue
from tests.support import REPO_ROOT

ROOT = REPO_ROOT
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"
PROBE = ROOT / "tests" / "compat" / "netschoolapi_probe.py"


@pytest.mark.skipif(
    not COMPAT_PYTHON.exists(), reason="no .venv-compat: `make test` builds it (netschoolapi)"
)
def test_netschoolapi_logs_in_and_reads_the_diary() -> None:
    world = World.generate(3, WorldSize(grades=(6,), letters=1, students_per_class=5, weeks=10))
    school = next(iter(world.schools.values()))
    student = world.accounts(school.slug, "student")[0]
    week = min(le.day for le in world.lessons.values())
    week -= timedelta(days=week.weekday())
    groups = {g.ext_id for g in world.groups_of_student(student.person_id)}
    lessons = [
        le
        for le in world.lessons.values()
        if le.group_id in groups and week <= le.day <= week + timedelta(days=5)
    ]
    with_file = _first_file_homework(world, groups)
    dots = _dots(world, student.person_id, groups)
    with serve_in_thread(create_app(world)) as server:
        run = subprocess.run(
            [str(COMPAT_PYTHON), str(PROBE), server.base_url, student.login, student.password,
             str(school.ext_id), week.isoformat(), str(with_file.ext_id),
             school.year.start.isoformat(), world.today.isoformat(), str(student.person_id)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-1500:]
    assert student.password not in run.stdout
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in out, out.get("error")
    assert out["login"] == "ok" and out["logout"] == "ok"
    assert out["diary"]["lessons"] == len(lessons) > 0
    assert set(out["diary"]["marks"]) <= {1, 2, 3, 4, 5}
    assert out["assignment_details"]["teacher_named"] and out["school_named"]
    assert out["attachments"] == 1 and out["attachment_bytes"] > 0
    assert out["announcement_attachments"] == 1
    assert out["overdue_range"] == {"count": dots, "all_duty": True} and dots > 0
    assert out["photo_jpeg"] is True


def _first_file_homework(world: World, groups: set[int]) -> AssignmentInfo:
    """The student's earliest homework carrying a file (the emulator gives every fifth one)."""
    return min(
        (a for a in world.assignments.values()
         if a.work_type == "homework" and a.ext_id % 5 == 0
         and world.lessons[a.lesson_id].group_id in groups),
        key=lambda a: world.lessons[a.lesson_id].day,
    )  # fmt: skip


def _dots(world: World, sid: int, groups: set[int]) -> int:
    """«Точки» of the student up to the world's today: what `pastMandatory` lists for the year."""
    return sum(
        a.marks.get(sid) is MarkValue.DOT
        for le in world.lessons.values()
        if le.group_id in groups and le.day <= world.today
        for a in world.lesson_assignments(le)
    )


NSPY_PYTHON = ROOT / ".venv-compat-netschoolpy" / "bin" / "python"
NSPY_PROBE = ROOT / "tests" / "compat" / "netschoolpy_probe.py"


@pytest.mark.skipif(
    not NSPY_PYTHON.exists(),
    reason="no .venv-compat-netschoolpy: `make test` builds it (netschoolpy 9.6.3)",
)
def test_netschoolpy_reads_diary_files_terms_and_finals() -> None:
    """netschoolpy 9.6.3, unchanged: login, diary, overdue, attachments, announcements, the
    reports (terms from `reports/studentgrades`, finals via queue + SignalR hub + `files/{id}`),
    years, bells, settings, photo, school card."""
    world = World.generate(3, WorldSize(grades=(6,), letters=1, students_per_class=5, weeks=10))
    school = next(iter(world.schools.values()))
    student = world.accounts(school.slug, "student")[0]
    sid = student.person_id
    groups = {g.ext_id for g in world.groups_of_student(sid)}
    # a week of the student's with a homework that carries a file
    with_file = _first_file_homework(world, groups)
    day = world.lessons[with_file.lesson_id].day
    week = day - timedelta(days=day.weekday())
    in_week = [
        le for le in world.lessons.values()
        if le.group_id in groups and week <= le.day <= week + timedelta(days=5)
    ]  # fmt: skip
    marks = sorted(
        int(v.value)
        for le in in_week
        for a in world.lesson_assignments(le)
        if (v := a.marks.get(sid)) is not None and v.value.isdigit()
    )
    finals = sorted(v.value for (s, _, _), v in world.final_marks.items() if s == sid)
    dots = _dots(world, sid, groups)
    # `studentgrades` defaults: the first subject group, the current term
    term = world.period_of(school.slug, world.today)
    first = world.groups_of_student(sid)[0]
    graded = sum(
        a.marks.get(sid) is not None
        for lid in first.lesson_ids
        if term is not None and term.start <= world.lessons[lid].day <= term.end
        for a in world.lesson_assignments(world.lessons[lid])
        if a.marks.get(sid) is MarkValue.DOT or ((v := a.marks.get(sid)) and v.value.isdigit())
    )
    with serve_in_thread(create_app(world)) as server:
        run = subprocess.run(
            [str(NSPY_PYTHON), str(NSPY_PROBE), server.base_url, student.login, student.password,
             str(school.ext_id), week.isoformat(), str(with_file.ext_id),
             school.year.start.isoformat(), world.today.isoformat()],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr[-1500:]
    assert student.password not in run.stdout
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in out, out.get("error")
    assert out["login"] == "ok" and out["logout"] == "ok"
    assert out["diary"]["lessons"] == len(in_week) > 0
    assert out["diary"]["marks"] == marks and out["diary"]["subjects_named"]
    assert out["diary"]["kinds_named"] and out["diary"]["term"]
    assert out["overdue"] == {"count": dots, "all_duty": True} and dots > 0
    assert out["details"] == {"teacher_named": True, "group_parts": 2, "attachments": 1}
    assert out["attachments"] == 1 and out["attachment_bytes"] > 0
    assert out["announcements"] >= 1 and out["announcement_attachments"] == 1
    assert out["announcement_bytes"] > 0
    assert [p["name"] for p in out["periods"]] == [p.name for p in school.periods]
    assert sum(p["dated"] for p in out["periods"]) == 1  # only the current term has dates
    assert out["report_subjects"] == len(groups)
    assert finals, "the world should have closed a quarter by week 10"
    assert out["total_marks"]["period_columns"] == [len(school.periods)]
    assert out["total_marks"]["marks"] == finals
    assert out["assigned_marks"]["rows"] == graded > 0 and out["assigned_marks"]["dated"]
    assert set(out["assigned_marks"]["marks"]) <= {1, 2, 3, 4, 5}
    assert out["years"] == [school.year.name]
    assert out["bells"]["count"] > 0 and out["bells"]["weekdays"] == [1, 2, 3, 4, 5, 6]
    assert out["settings_roles"] == ["Student"] and out["photo_jpeg"] is True
    assert out["school_named"]
