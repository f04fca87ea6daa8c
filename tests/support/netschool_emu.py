"""Shared fixtures and helpers of the NetSchool emulator tests (not a test module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from hashlib import md5
from typing import Any

import httpx
import pytest

from connectors.netschool.emulator import NetSchoolEmulator, NetSchoolEmulatorOptions, create_app
from connectors.sandbox.world import World, WorldSize

SIZE = WorldSize(grades=(1, 5, 7), letters=1, students_per_class=6, weeks=2)


@dataclass
class Ctx:
    world: World
    app: NetSchoolEmulator
    client: httpx.AsyncClient


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def ctx(clock: FakeClock) -> AsyncIterator[Ctx]:
    world = World.generate(7, SIZE)
    app = create_app(world, options=NetSchoolEmulatorOptions(clock=clock))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ns.test"
    ) as client:
        yield Ctx(world, app, client)


def pw_hash(salt: str, password: str) -> str:
    return md5((salt + md5(password.encode("cp1251")).hexdigest()).encode()).hexdigest()


async def login(
    c: httpx.AsyncClient, world: World, login_name: str, password: str, **extra: str
) -> httpx.Response:
    r = await c.get("/webapi/logindata")
    assert r.status_code == 200
    meta = (await c.post("/webapi/auth/getdata")).json()
    salt = meta.pop("salt")
    pw2 = pw_hash(salt, password)
    school = world.school("school-1")
    form = {
        "LoginType": "1",
        "scid": str(school.ext_id),
        "UN": login_name,
        "PW": pw2[: len(password)],
        "pw2": pw2,
        **meta,
        **extra,
    }
    r = await c.post("/webapi/login", data=form)
    if r.status_code == 200:
        c.headers["at"] = r.json()["at"]
    return r


async def login_admin(ctx: Ctx) -> dict[str, Any]:
    admin = ctx.world.persons[ctx.world.school("school-1").admin_id]
    r = await login(ctx.client, ctx.world, admin.login, admin.password)
    assert r.status_code == 200, r.text
    return dict(r.json())


# -- login ------------------------------------------------------------------------------------


def find_group(world: World, grade: int, subject: str, subgroup: int = 0) -> Any:
    for g in world.groups.values():
        if (
            world.classes[g.class_id].grade == grade
            and world.subjects[g.subject_id].name == subject
            and g.subgroup == subgroup
        ):
            return g
    raise LookupError(subject)


async def read_journal(ctx: Ctx, group: Any) -> dict[str, Any]:
    school = ctx.world.school("school-1")
    r = await ctx.client.get(
        "/webapi/grade/journal",
        params={
            "yearId": school.year.ext_id,
            "classId": group.class_id,
            "grade": -1,
            "sgId": group.ext_id,
            "termId": school.periods[0].ext_id,
        },
    )
    assert r.status_code == 200, r.text
    return dict(r.json())
