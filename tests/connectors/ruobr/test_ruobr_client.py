"""The ``success: false`` envelope, non-JSON bodies and HTTP variants → the error tree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectors.ruobr import schema as s
from connectors.ruobr.client import RuobrClient
from connectors.ruobr.emulator import RuobrEmulator, RuobrEmulatorOptions, create_app
from connectors.sandbox.faults import Faults
from connectors.sandbox.world import World, WorldSize
from core.connector import Credentials
from core.errors import AuthError, ContractError, RateLimited, ServerError
from core.http import START_CONCURRENCY, HttpSettings, host_limits

SIZE = WorldSize(grades=(5,), letters=1, students_per_class=3, weeks=1)
FAST = HttpSettings(backoff_initial=0.0, backoff_max=0.0, max_retry_after=0.0, max_attempts=3)


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, app: RuobrEmulator) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)


@pytest.fixture
def world() -> World:
    return World.generate(5, SIZE)


@pytest.fixture
def app(world: World) -> RuobrEmulator:
    return create_app(world, faults=Faults())


@pytest.fixture
def transport(app: RuobrEmulator) -> Counting:
    return Counting(app)


@pytest.fixture
async def client(world: World, transport: Counting) -> AsyncIterator[RuobrClient]:
    guardians = world.accounts("school-1", "guardian")
    c = RuobrClient(
        "http://ruobr.test",
        [Credentials(login=g.login, password=g.password) for g in guardians[:2]],
        transport=transport,
        settings=FAST,
    )
    yield c
    await c.aclose()


def _child(world: World, account: int) -> int:
    return world.persons[world.accounts("school-1", "guardian")[account].person_id].children[0]


@pytest.mark.parametrize("status", [200, 401, 403])
async def test_auth_envelope_in_every_status_variant_is_an_auth_error(
    world: World, status: int
) -> None:
    app = create_app(world, options=RuobrEmulatorOptions(auth_failure_status=status))
    g = world.accounts("school-1", "guardian")[0]
    c = RuobrClient(
        "http://ruobr.test",
        [Credentials(login=g.login, password="not-the-password")],
        transport=httpx.ASGITransport(app=app),
        settings=FAST,
    )
    try:
        with pytest.raises(AuthError, match="account #1"):
            await c.user(0)
    finally:
        await c.aclose()


async def test_success_false_burst_is_retried(
    client: RuobrClient, app: RuobrEmulator, transport: Counting
) -> None:
    app.options.success_false = 2
    children = await client.user(0)
    assert children and transport.calls == 3


async def test_persistent_success_false_is_a_server_error_with_the_platform_reason(
    client: RuobrClient, app: RuobrEmulator, transport: Counting
) -> None:
    app.options.success_false = 100
    with pytest.raises(ServerError) as err:
        await client.user(0)
    assert "success=false" in str(err.value) and "Внутренняя ошибка" in str(err.value)
    assert "gave up after 3 attempts" in str(err.value)
    assert transport.calls == 3


async def test_a_child_of_another_account_is_refused_by_the_envelope(
    client: RuobrClient, world: World
) -> None:
    stranger = _child(world, 1)
    with pytest.raises(ServerError, match="success=false"):
        await client.control_marks(0, stranger)
    assert await client.control_marks(1, stranger)


async def test_html_instead_of_json_is_retried_then_a_server_error(
    client: RuobrClient, app: RuobrEmulator, world: World
) -> None:
    app.faults.update({"html_instead_of_json": 1})
    assert await client.control_marks(0, _child(world, 0))
    app.faults.update({"html_instead_of_json": 50})
    with pytest.raises(ServerError, match="HTML instead of JSON"):
        await client.control_marks(0, _child(world, 0))


async def test_firewall_403_page_is_rate_limiting_not_bad_credentials(
    client: RuobrClient, app: RuobrEmulator
) -> None:
    app.faults.update({"firewall_403": 1})
    assert await client.user(0)  # retried past one anti-bot page
    # ... and the host is asked for fewer requests at once from then on
    assert host_limits()["ruobr.test:80"].limit == START_CONCURRENCY // 2
    app.faults.update({"firewall_403": 50})
    with pytest.raises(RateLimited) as err:
        await client.user(0)
    assert "403" in str(err.value) and "user_agent" in (err.value.hint or "")


async def test_persistent_503_is_not_retried_twice_over(
    client: RuobrClient, app: RuobrEmulator, transport: Counting
) -> None:
    app.faults.update({"server_errors": 50})
    with pytest.raises(ServerError, match="503"):
        await client.user(0)
    assert transport.calls == FAST.max_attempts


def test_a_timetable_without_lessons_key_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="timetable2"):
        s.parse(s.Timetable, {"data": {}}, what="timetable2/")


def test_a_controlmark_that_is_not_a_list_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="controlmark"):
        s.parse_list(s.ControlPeriod, {"data": []}, what="controlmark/")
