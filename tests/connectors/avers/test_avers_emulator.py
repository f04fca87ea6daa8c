"""The АВЕРС emulator's wire behaviour, over httpx.ASGITransport and a real loopback socket."""

from __future__ import annotations

import httpx
import pytest

from connectors.avers._cookies import JsEscape, Utf8Percent, YsCookies, sha1_hex
from connectors.avers._emulator_rows import USER_ID_OFFSET
from connectors.avers.client import AversClient
from connectors.avers.emulator import AversEmulatorOptions, create_app
from connectors.avers.jsarray import parse
from connectors.conformance.harness import SMALL
from connectors.sandbox import World
from connectors.sandbox.faults import Faults
from connectors.sandbox.server import serve_in_thread
from core.connector import Credentials

BASE = "http://avers.test"


@pytest.fixture
def world() -> World:
    return World.generate(11, SMALL)


def _student(world: World):
    return world.accounts(next(iter(world.schools)), "student")[0]


async def _login(http: httpx.AsyncClient, login: str, password: str, encoding=None) -> int:
    r = await http.post("/login", data={"l": login, "p": sha1_hex(password)})
    assert r.headers["content-type"].startswith("text/plain")
    assert "set-cookie" not in r.headers
    user_id = parse(r.text)[0][0]  # type: ignore[index]
    assert isinstance(user_id, int)
    cookies = YsCookies(login, sha1_hex(password), user_id)
    http.headers["Cookie"] = cookies.header(encoding or JsEscape())
    r = await http.post("/auth", data={"uId": str(user_id), "act": "1"})
    return user_id if r.text == "ok" else -1


async def test_login_row_and_data_with_escaped_cookies(world: World) -> None:
    acc = _student(world)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world)), base_url=BASE
    ) as http:
        r = await http.post("/login", data={"l": acc.login, "p": sha1_hex(acc.password)})
        row = parse(r.text)[0]
        assert row[0] == acc.person_id + USER_ID_OFFSET and row[1] == 4  # type: ignore[index]
        assert row[6] == row[8] == acc.person_id  # type: ignore[index]
        assert await _login(http, acc.login, acc.password) > 0
        # Action names are case-insensitive; GET without parameters.
        upper = parse((await http.get("/act/GET_USER_DATA")).text)
        lower = parse((await http.get("/act/get_user_data")).text)
        assert upper == lower and upper[0][3] == world.schools["school-1"].name  # type: ignore[index]


@pytest.mark.parametrize(("style", "body"), [("symbol", "[wrongLoginOrPassword]"), ("empty", "[]")])
async def test_bad_login_answers(world: World, style: str, body: str) -> None:
    app = create_app(world, options=AversEmulatorOptions(bad_login=style))
    acc = _student(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.post("/login", data={"l": acc.login, "p": sha1_hex("wrong")})
        assert r.status_code == 200 and r.text == body


async def test_act_without_or_with_utf8_cookies_answers_empty(world: World) -> None:
    acc = _student(world)
    world.persons[acc.person_id].login = "Смирнова.А"  # a Cyrillic login, as some schools have
    app = create_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        assert (await http.get("/act/get_user_data")).text == "[]"
        # UTF-8 percent-encoding is refused already at /auth, and then by every action.
        assert await _login(http, "Смирнова.А", acc.password, Utf8Percent()) == -1
        assert (await http.get("/act/get_user_data")).text == "[]"
        assert await _login(http, "Смирнова.А", acc.password, JsEscape()) > 0
        assert parse((await http.get("/act/get_user_data")).text) != []


async def test_expired_epoch_answers_empty_until_auth_again(world: World) -> None:
    acc = _student(world)
    app = create_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        await _login(http, acc.login, acc.password)
        assert parse((await http.get("/act/GET_PERIODS")).text)
        app.expire_sessions()
        assert (await http.get("/act/GET_PERIODS")).text == "[]"
        await _login(http, acc.login, acc.password)
        assert parse((await http.get("/act/GET_PERIODS")).text)


async def test_student_sees_only_own_rows(world: World) -> None:
    me, other = world.accounts(next(iter(world.schools)), "student")[:2]
    app = create_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        await _login(http, me.login, me.password)
        cls = world.persons[me.person_id].class_id
        own = await http.post(
            "/act/GET_STUDENT_JOURNAL_DATA", data={"cls": str(cls), "student": str(me.person_id)}
        )
        theirs = await http.post(
            "/act/GET_STUDENT_JOURNAL_DATA", data={"cls": str(cls), "student": str(other.person_id)}
        )
        assert theirs.text == "[]"
        assert all(row[1] == me.person_id for row in parse(own.text))  # type: ignore[index]


async def test_malformed_fault_corrupts_n_rows(world: World) -> None:
    acc = next(
        a for a in world.accounts(next(iter(world.schools)), "student")
        if world.classes[world.persons[a.person_id].class_id or 0].grade > 1
    )  # fmt: skip
    faults = Faults(malformed=2)
    app = create_app(world, faults=faults)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        await _login(http, acc.login, acc.password)
        form = {"cls": "0", "student": str(acc.person_id)}
        rows = parse((await http.post("/act/GET_STUDENT_JOURNAL_DATA", data=form)).text)
    bad = [r for r in rows if isinstance(r, list) and not isinstance(r[0], int)]
    assert len(bad) == 2 and faults.malformed == 0 and len(faults.corrupted) == 2


async def test_root_page_quirks_in_process(world: World) -> None:
    app = create_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.get("/")
    assert r.headers["content-type"] == "text/html; charset=windows-1251"
    assert int(r.headers["content-length"]) == len(r.content) + 42
    assert "АВЕРС" in r.content.decode("utf-8")


async def test_root_page_over_a_socket_is_short_and_the_client_copes(world: World) -> None:
    """Plain HTTP, a path prefix, a short body: a naive GET fails, ``server_build`` does not."""
    app = create_app(world, options=AversEmulatorOptions(base_path="/5sov"))
    with serve_in_thread(app) as server:
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.base_url + "/5sov/")
        client = AversClient(server.base_url + "/5sov")
        try:
            assert await client.server_build() == "4.1 (23813)"
            acc = _student(world)
            await client.login(Credentials(login=acc.login, password=acc.password))
            assert (await client.user_data()).uch_id == 1
        finally:
            await client.aclose()


async def test_sandbox_operator_routes_are_mounted(world: World) -> None:
    app = create_app(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.post("/_sandbox/operator/apply-worklist", json={})
        assert r.status_code == 400 and "worklist" in r.json()["message"]
        r = await http.post("/_sandbox/sessions/expire")
        assert r.json() == {"epoch": 1}
