"""The NetSchool entry in the conformance suite (``connectors/conformance``)."""

from __future__ import annotations

from typing import Any

from connectors.conformance.harness import Harness
from connectors.netschool.connector import NetSchoolConnector
from connectors.netschool.emulator import NetSchoolEmulator, create_app
from connectors.sandbox import World
from core.codes import Role
from core.connector import Credentials, SchoolTarget
from core.model import Lesson, Mark, Person, Record

__all__ = ["HARNESS"]


def _target(world: World, base_url: str, school: str, good: bool) -> SchoolTarget:
    info = world.school(school)
    admin = world.accounts(school, "admin")[0]
    return SchoolTarget(
        school=school,
        platform="netschool",
        base_url=base_url,
        credentials=Credentials(
            login=admin.login, password=admin.password if good else admin.password + "x"
        ),
        platform_school=info.short_name,
    )


def _expire(app: Any) -> None:
    assert isinstance(app, NetSchoolEmulator)
    app.expire_sessions()


def _expected(world: World, school: str, platform: str) -> list[Record]:
    """Staff endpoints show no guardians: a school pull cannot carry them."""
    return [
        r
        for r in world.canonical(school, platform)
        if not (isinstance(r, Person) and r.roles == (Role.GUARDIAN,))
    ]


#: The provenance key holding the world's id, per pulled entity (the emulator serves the world's
#: ids as NetSchool's: lessons' ``cmId``, people's ``userId``, marks' ``assignId``).
_WORLD_KEYS = {Lesson: "cmId", Person: "userId", Mark: "assignId"}


def _world_id(record: Record) -> int:
    key = _WORLD_KEYS[type(record)]
    assert record.provenance is not None, "pulled records carry provenance"
    return int(record.provenance.external_ids[key])


HARNESS = Harness(
    platform="netschool",
    connector=NetSchoolConnector,
    create_app=create_app,
    target=_target,
    expire_sessions=_expire,
    expected=_expected,
    world_id=_world_id,
    login_paths=(
        "/webapi/logindata",
        "/webapi/auth/getdata",
        "/webapi/schools/search",
        "/webapi/login",
        "/webapi/mysettings",
    ),
)
