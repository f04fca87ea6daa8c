"""The ЭПОС entry in the conformance suite (``connectors/conformance``).

Accounts: every student and guardian of the school, each linked by its deterministic initial
mobile token. ``expected`` is the world as those accounts can see it through ЭПОС:

* the school under its short name (``school_shortname``);
* no attendance record for a late arrival (a row means absent), and no attendance reason;
* integer weights (:func:`wire_weight`), and mark ordinals counted per student — ЭПОС has no
  assignment columns, only a student's marks of one control form on one lesson (WIRE.md);
* the emulator's derived homework files (``_emulator_render.homework_files``) as attachments,
  their URLs on ``base_url`` (the suite's :data:`BASE_URL` unless a test serves elsewhere).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connectors.conformance.harness import BASE_URL, Harness
from connectors.sandbox import World
from core.codes import AttendanceCode
from core.connector import Credentials, SchoolTarget
from core.model import Attachment, Attendance, Homework, Mark, Record, School

from ._emulator_render import homework_files
from .connector import PermConnector
from .emulator import PermEmulator, create_app, initial_mobile_token, wire_weight
from .options import PermOptions

__all__ = ["HARNESS", "accounts", "expected"]


def accounts(world: World, school: str, good: bool = True) -> list[Credentials]:
    """Every student and guardian of the school, by mobile token (the first one spoilt if bad)."""
    out = []
    for acc in world.accounts(school):
        if acc.role in ("student", "guardian"):
            token = initial_mobile_token(world, acc.person_id)
            out.append(Credentials(login=f"{acc.role}-{acc.person_id}", password=token))
    if not good and out:
        out[0] = Credentials(login=out[0].login, password=out[0].password + "x")
    return out


def _target(world: World, base_url: str, school: str, good: bool) -> SchoolTarget:
    creds = accounts(world, school, good)
    return SchoolTarget(
        school=school,
        platform="perm",
        base_url=base_url,
        credentials=creds[0],
        accounts=tuple(creds[1:]),
        timezone="Asia/Yekaterinburg",
        options=PermOptions(host="legacy"),
    )


def _expire(app: Any) -> None:
    assert isinstance(app, PermEmulator)
    app.expire_sessions()


def expected(world: World, school: str, platform: str, base_url: str = BASE_URL) -> list[Record]:
    """The canonical world as ЭПОС shows it (see the module docstring)."""
    short = world.school(school).short_name
    out: list[Record] = []
    marks: list[Mark] = []
    for r in world.canonical(school, platform):
        if isinstance(r, School):
            out.append(_with(r, name=short))
        elif isinstance(r, Attendance):
            if r.code is not AttendanceCode.LATE:
                out.append(r)
        elif isinstance(r, Mark):
            marks.append(r)
        elif isinstance(r, Homework) and r.provenance is not None:
            a = world.assignments[int(r.provenance.external_ids["id"])]
            files = tuple(
                Attachment(
                    name=f["file_file_name"],
                    url=base_url.rstrip("/") + quote(f["path"]),
                    size=f["file_file_size"],
                )
                for f in homework_files(a)
            )
            out.append(_with(r, attachments=files) if files else r)
        else:
            out.append(r)
    # World marks carry the assignment's position; ЭПОС's ordinal counts one student's marks.
    counters: dict[tuple[str, str, str], int] = {}
    for m in sorted(marks, key=lambda m: (m.student_id, m.lesson_id, m.work_type, m.ordinal)):
        key = (m.student_id, m.lesson_id, m.work_type)
        counters[key] = counters.get(key, 0) + 1
        out.append(_with(m, ordinal=counters[key], weight=float(wire_weight(m.weight))))
    return out


def _with(record: Record, **update: Any) -> Record:
    """A changed copy with its id recomputed (``model_copy`` would keep the cached id)."""
    return type(record).model_validate({**record.model_dump(), **update})


HARNESS = Harness(
    platform="perm",
    connector=PermConnector,
    create_app=create_app,
    target=_target,
    expire_sessions=_expire,
    expected=expected,
    login_paths=("/authenticate", "/lms/api/sessions"),
)
