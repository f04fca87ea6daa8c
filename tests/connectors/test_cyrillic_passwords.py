"""A Cyrillic password logs in on every platform that takes passwords, against its emulator over
real HTTP; ЭПОС (accounts linked by mobile token) refuses it with a clear message, not an
"unexpected UnicodeEncodeError"; КИАСУО signs families in by refresh token only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.conformance.harness import Harness, harnesses
from connectors.sandbox import World, WorldSize
from connectors.sandbox.server import serve_in_thread
from core.connector import Credentials
from core.errors import AuthError

PASSWORD = "Ёлка-пароль №7 «школа»"
SIZE = WorldSize(grades=(5,), letters=1, students_per_class=2, weeks=1)
#: Platforms with no password login at all, and why.
NO_PASSWORD = {"kiasuo": "КИАСУО signs families in by refresh token; it has no password login"}
#: Platforms that take a token where a password would go: a Cyrillic one is refused, clearly.
TOKEN_ONLY = {"perm"}


def _harness(platform: str) -> Harness:
    found = next((h for h in harnesses() if h.platform == platform), None)
    if found is None:
        pytest.skip(f"{platform}: no conformance harness installed")
    return found


@pytest.mark.parametrize("platform", ["netschool", "ruobr", "avers", "perm", "kiasuo"])
async def test_a_cyrillic_password_logs_in(platform: str) -> None:
    if platform in NO_PASSWORD:
        pytest.skip(f"not checkable here: {NO_PASSWORD[platform]}")
    h = _harness(platform)
    world = World.generate(3, SIZE)
    slug = next(iter(world.schools))
    server = serve_in_thread(h.app(world))
    try:
        target = h.target(world, server.base_url, slug, True)
        login = target.credentials.login
        person = world.account(login)
        if platform in TOKEN_ONLY:
            cyrillic = Credentials(login=login, password=PASSWORD)
        else:
            assert person is not None, login
            person.password = PASSWORD  # the platform's user changed it to a Cyrillic one
            cyrillic = replace(target.credentials, password=PASSWORD)
        target = replace(target, credentials=cyrillic)
        connector = h.connect(world, target)
        async with connector:
            if platform in TOKEN_ONLY:
                with pytest.raises(AuthError) as err:
                    await connector.login()
                assert "not a mobile token" in err.value.message
                assert PASSWORD not in str(err.value)
            else:
                await connector.login()
                assert world.account(login) is person
    finally:
        server.stop()


@pytest.mark.parametrize("platform", ["netschool", "ruobr", "avers"])
async def test_a_wrong_cyrillic_password_is_refused_clearly(platform: str) -> None:
    h = _harness(platform)
    world = World.generate(3, SIZE)
    slug = next(iter(world.schools))
    server = serve_in_thread(h.app(world))
    try:
        target = h.target(world, server.base_url, slug, True)
        target = replace(target, credentials=replace(target.credentials, password=PASSWORD))
        async with h.connect(world, target) as connector:
            with pytest.raises(AuthError) as err:
                await connector.login()
        assert PASSWORD not in str(err.value)
    finally:
        server.stop()
