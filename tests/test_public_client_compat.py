"""An independent NetSchool client (PyPI ``netschoolapi`` 11.0.5) logs in to the emulator over a
real socket and reads a diary. It pins httpx 0.23, so it lives in ``.venv-compat`` (built by
``make test``); the probe runs there as a subprocess."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.netschool.emulator import create_app
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"
PROBE = ROOT / "tests" / "compat" / "netschoolapi_probe.py"


@pytest.mark.skipif(
    not COMPAT_PYTHON.exists(), reason="no .venv-compat: `make test` builds it (netschoolapi)"
)
def test_netschoolapi_logs_in_and_reads_the_diary() -> None:
    world = World.generate(3, WorldSize(grades=(6,), letters=1, students_per_class=5, weeks=2))
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
    with serve_in_thread(create_app(world)) as server:
        run = subprocess.run(
            [str(COMPAT_PYTHON), str(PROBE), server.base_url, student.login, student.password,
             str(school.ext_id), week.isoformat()],
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
