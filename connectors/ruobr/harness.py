"""The Ruobr entry in the conformance suite (``connectors/conformance``).

A school pull logs in as every guardian of the school (Ruobr shows one family per account), so
``expected`` is what those accounts can see: everything but the guardians themselves (api3d
never names the parent), staff who teach no lesson (no endpoint lists them), groups that have
no lesson yet (groups are known only from the timetable: in the first school week a group that
meets only on Mondays has none when 1 September is a Tuesday) and attendance of lessons outside
every period (``all_marks`` covers a period's own dates).
"""

from __future__ import annotations

from typing import Any

from connectors.conformance.harness import Harness
from connectors.sandbox import World
from core.codes import Role
from core.connector import Credentials, SchoolTarget
from core.model import Attendance, Group, Lesson, Person, Record

from .connector import RuobrConnector
from .emulator import RuobrEmulator, create_app
from .mapping import person_key

__all__ = ["HARNESS"]


def _target(world: World, base_url: str, school: str, good: bool) -> SchoolTarget:
    guardians = world.accounts(school, "guardian")
    first, rest = guardians[0], guardians[1:]
    return SchoolTarget(
        school=school,
        platform="ruobr",
        base_url=base_url,
        credentials=Credentials(
            login=first.login, password=first.password if good else first.password + "x"
        ),
        accounts=tuple(Credentials(login=a.login, password=a.password) for a in rest),
        timezone="Asia/Novokuznetsk",
    )


def _expire(app: Any) -> None:
    """Header credentials: there is no session to expire; the case runs as a plain pull."""
    assert isinstance(app, RuobrEmulator)
    app.expire_sessions()


def _expected(world: World, school: str, platform: str) -> list[Record]:
    teaching = {
        person_key(le.teacher_id)
        for le in world.lessons.values()
        if world.groups[le.group_id].school == school
    }
    periods = world.school(school).periods
    records = world.canonical(school, platform)
    # all_marks lists a period's own lessons only: attendance in the holidays is not shown.
    in_holidays = {
        r.id
        for r in records
        if isinstance(r, Lesson) and not any(p.start <= r.date <= p.end for p in periods)
    }
    taught = {r.group_id for r in records if isinstance(r, Lesson)}
    out: list[Record] = []
    for r in records:
        if isinstance(r, Attendance) and r.lesson_id in in_holidays:
            continue
        if isinstance(r, Group) and r.id not in taught:
            continue
        if isinstance(r, Person):
            if r.roles == (Role.GUARDIAN,):
                continue
            if Role.TEACHER in r.roles and r.key not in teaching:
                continue
        out.append(r)
    return out


HARNESS = Harness(
    platform="ruobr",
    connector=RuobrConnector,
    create_app=create_app,
    target=_target,
    expire_sessions=_expire,
    expected=_expected,
    login_paths=("/user/",),
)
