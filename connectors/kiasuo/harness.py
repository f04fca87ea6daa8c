"""The КИАСУО entry in the conformance suite (``connectors/conformance``).

A school pull uses every guardian of the school (each with its initial refresh token): that is
the whole of what КИАСУО can show, so ``expected`` is the world as those families see it.
"""

from __future__ import annotations

from typing import Any

from connectors.conformance.harness import Harness
from connectors.sandbox import World
from core.codes import AttendanceCode, Role
from core.connector import Credentials, SchoolTarget
from core.model import Attendance, Homework, Mark, Person, Record, record_from_data

from ._emulator_auth import initial_refresh_token
from .client import REFRESH_PATH
from .connector import KiasuoConnector
from .emulator import KiasuoEmulator, create_app

__all__ = ["HARNESS", "family_accounts", "visible"]

_SHOWN_ABSENCES = {AttendanceCode.ABSENT, AttendanceCode.EXCUSED, AttendanceCode.ILL}


def family_accounts(world: World, school: str) -> list[Credentials]:
    """Every guardian of the school as an account with its initial refresh token."""
    return [
        Credentials(login=acc.login, token=initial_refresh_token(world, acc))
        for acc in world.accounts(school, "guardian")
    ]


def _target(world: World, base_url: str, school: str, good: bool) -> SchoolTarget:
    accounts = family_accounts(world, school)
    if not good:
        accounts[0] = Credentials(login=accounts[0].login, token="0" * 32)
    return SchoolTarget(
        school=school,
        platform="kiasuo",
        base_url=base_url,
        credentials=accounts[0],
        accounts=tuple(accounts[1:]),
        platform_school=world.school(school).short_name,
        timezone="Asia/Krasnoyarsk",
    )


def _expire(app: Any) -> None:
    assert isinstance(app, KiasuoEmulator)
    app.expire_access_tokens()


def visible(world: World, school: str, platform: str) -> list[Record]:
    """The world as the school's families see it in КИАСУО.

    No guardians (the API shows no account holder's name); absences only as Н/У/Б; only a
    lesson's first homework (``created_homework_id`` is one id); marks of one kind of work on a
    lesson are one cell, so their ordinals count only the student's own marks (a lone mark in
    the second test of a lesson is ordinal 1).
    """
    out: list[Record] = []
    marks: dict[tuple[str, str, str], list[Mark]] = {}
    for r in world.canonical(school, platform):
        if isinstance(r, Person) and r.roles == (Role.GUARDIAN,):
            continue
        if isinstance(r, Attendance) and r.code not in _SHOWN_ABSENCES:
            continue
        if isinstance(r, Homework) and r.ordinal != 1:
            continue
        if isinstance(r, Mark):
            marks.setdefault((r.student_id, r.lesson_id, r.work_type), []).append(r)
            continue
        out.append(r)
    for group in marks.values():
        group.sort(key=lambda m: m.ordinal)
        # Rebuilt, not model_copy'd: the copied cached id would keep the old ordinal.
        out += [
            record_from_data("mark", {**m.data(), "ordinal": n}) for n, m in enumerate(group, 1)
        ]
    return out


HARNESS = Harness(
    platform="kiasuo",
    connector=KiasuoConnector,
    create_app=create_app,
    target=_target,
    expire_sessions=_expire,
    expected=visible,
    login_paths=(REFRESH_PATH,),
)
