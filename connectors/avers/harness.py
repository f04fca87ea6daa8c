"""The АВЕРС entry in the conformance suite (``connectors/conformance``)."""

from __future__ import annotations

from typing import Any

from connectors.conformance.harness import Harness
from connectors.sandbox import World
from core.codes import AttendanceCode, MarkValue, Role
from core.connector import Credentials, SchoolTarget
from core.model import Attendance, Mark, Person, Record

from ._emulator_rows import attendance_cell, mark_cell
from .connector import AversConnector
from .emulator import AversEmulator, create_app

__all__ = ["HARNESS", "expected", "target"]


def target(world: World, base_url: str, school: str, good: bool = True) -> SchoolTarget:
    """Every student account of the school (АВЕРС shows one student per account)."""
    students = world.accounts(school, "student")
    first, rest = students[0], students[1:]
    return SchoolTarget(
        school=school,
        platform="avers",
        base_url=base_url,
        credentials=Credentials(
            login=first.login, password=first.password if good else first.password + "x"
        ),
        accounts=tuple(Credentials(login=a.login, password=a.password) for a in rest),
    )


def _expire(app: Any) -> None:
    assert isinstance(app, AversEmulator)
    app.expire_sessions()


def _shown(r: Record) -> bool:
    if isinstance(r, Person):
        return r.roles != (Role.GUARDIAN,)
    if isinstance(r, Mark):
        return mark_cell(MarkValue(r.value)) is not None
    if isinstance(r, Attendance):
        return attendance_cell(AttendanceCode(r.code)) is not None
    return True


def expected(world: World, school: str, platform: str) -> list[Record]:
    """What student accounts can see: no guardians, no values without a platform code."""
    return [r for r in world.canonical(school, platform) if _shown(r)]


HARNESS = Harness(
    schools_per_server=1,
    platform="avers",
    connector=AversConnector,
    create_app=create_app,
    target=target,
    expire_sessions=_expire,
    expected=expected,
    login_paths=("/login", "/auth"),
)
